// `/gitops suspend` kept in the cluster: a label and annotations on the Kustomization's inventory ConfigMap,
// written with a field manager of their own so that inventory writes never drop them. They survive restarts
// and show with `kubectl get configmap -A -l gitops-bot.dev/suspended=true`. A run lists them once and
// leaves each suspended Kustomization alone (status Suspended), as Flux does with spec.suspend.
import { PatchStrategy } from "@kubernetes/client-node";
import { apiStatus, type RawObjectApi } from "../cluster/kube-client.js";
import { type KustomizationKey, readInventory } from "../cluster/ssa/inventory.js";
import { kustomizationKey } from "../flux/kustomization.js";

export const SUSPENDED_LABEL = "gitops-bot.dev/suspended";
export const SUSPENDED_BY_ANNOTATION = "gitops-bot.dev/suspended-by";
export const SUSPENDED_AT_ANNOTATION = "gitops-bot.dev/suspended-at";
const FIELD_MANAGER = "gitops-bot-suspend";

/** The inventory ConfigMap's name (cluster/ssa/inventory.ts names it the same way). */
function configMapName(owner: KustomizationKey): string {
  return `gitops-bot-inventory-${owner.name}`;
}

export interface Suspension {
  by: string;
  at: string;
}

interface SuspensionConfigMap {
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

/** Every suspended Kustomization of the cluster, by `namespace/name`. One LIST. */
export async function listSuspended(api: RawObjectApi): Promise<Map<string, Suspension>> {
  const list = await api.list<SuspensionConfigMap & { apiVersion: string; kind: string }>(
    "v1",
    "ConfigMap",
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    `${SUSPENDED_LABEL}=true`,
  );
  const out = new Map<string, Suspension>();
  for (const cm of list.items) {
    const name = cm.metadata?.name?.replace(/^gitops-bot-inventory-/, "");
    const namespace = cm.metadata?.namespace;
    if (!name || !namespace) continue;
    out.set(kustomizationKey({ name, namespace }), {
      by: cm.metadata?.annotations?.[SUSPENDED_BY_ANNOTATION] ?? "",
      at: cm.metadata?.annotations?.[SUSPENDED_AT_ANNOTATION] ?? "",
    });
  }
  return out;
}

/**
 * Why a repository may not suspend or resume this Kustomization: it must have been reconciled from that
 * repository's scope (its inventory says so), so one repository can never stop another's.
 */
export async function suspensionRefusal(
  api: RawObjectApi,
  owner: KustomizationKey,
  scope: string,
): Promise<string | undefined> {
  const inventory = await readInventory(api, owner);
  if (!inventory) return `Kustomization/${kustomizationKey(owner)} was never reconciled here`;
  if (inventory.scope !== scope)
    return `Kustomization/${kustomizationKey(owner)} is managed from another repository or path (${inventory.scope})`;
  return undefined;
}

export async function suspendKustomization(
  api: RawObjectApi,
  owner: KustomizationKey,
  by: string,
  at: Date = new Date(),
): Promise<void> {
  await api.patch(
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: configMapName(owner),
        namespace: owner.namespace,
        labels: { [SUSPENDED_LABEL]: "true" },
        annotations: { [SUSPENDED_BY_ANNOTATION]: by, [SUSPENDED_AT_ANNOTATION]: at.toISOString() },
      },
    },
    undefined,
    undefined,
    FIELD_MANAGER,
    true,
    PatchStrategy.ServerSideApply,
  );
}

/** Removes the suspension: applying nothing as its field manager drops the label and annotations it owned. */
export async function resumeKustomization(api: RawObjectApi, owner: KustomizationKey): Promise<void> {
  const ref = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: configMapName(owner), namespace: owner.namespace },
  };
  try {
    await api.patch(ref, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  } catch (err) {
    if (apiStatus(err) === 404) return;
    throw err;
  }
}

/** The one-line reason a suspended Kustomization was left alone, for its status. */
export function suspendedMessage(s: Suspension): string {
  return `suspended by /gitops suspend${s.by ? ` (@${s.by}` : ""}${s.by && s.at ? `, ${s.at}` : ""}${s.by ? ")" : ""}; /gitops resume to reconcile it again`;
}
