// Which scopes (repository × cluster path) a cluster holds inventories of: one LIST, for rebuilding the schedule
// at start-up without asking GitHub about repositories that never reconciled there. The label and annotation
// are the ones cluster/ssa/inventory.ts writes.
import type { RawObjectApi } from "../cluster/kube-client.js";

const INVENTORY_LABEL = "gitops-bot.dev/inventory";
const SCOPE_ANNOTATION = "gitops-bot.dev/scope";

export async function inventoryScopes(api: RawObjectApi): Promise<Set<string>> {
  const list = await api.list<{
    apiVersion: string;
    kind: string;
    metadata?: { annotations?: Record<string, string> };
  }>("v1", "ConfigMap", undefined, undefined, undefined, undefined, undefined, `${INVENTORY_LABEL}=true`);
  const scopes = new Set<string>();
  for (const cm of list.items) {
    const scope = cm.metadata?.annotations?.[SCOPE_ANNOTATION];
    if (scope) scopes.add(scope);
  }
  return scopes;
}
