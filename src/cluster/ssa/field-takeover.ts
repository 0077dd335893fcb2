// Taking over the fields of the managers that applied an object before the bot did — Flux's kustomize-controller
// when a fleet moves from Flux, `kubectl apply` (server- or client-side) when it was bootstrapped by hand — the
// way Flux's ssa cleanup does it for kubectl: their managedFields entries are merged into the bot's own Apply
// entry before the bot's first apply. Without it a field the old manager set and Git no longer declares stays
// forever (the bot's apply only removes fields the bot owns). Managers that edited the object afterwards
// (`kubectl edit`, an operator, an HPA) are not taken over: their fields are drift or someone else's, and the
// forced apply already takes back the ones Git declares.
import { type KubernetesObject, PatchStrategy } from "@kubernetes/client-node";
import type { RawObjectApi } from "../kube-client.js";

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  apiVersion?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
  time?: string;
}

/** Managers whose fields the bot takes over: `name` and, when set, only entries of that operation. */
export interface TakeoverManager {
  name: string;
  operation?: "Apply" | "Update";
}

/** Flux's own manager and the kubectl managers Flux's cleanup takes over. */
export const DEFAULT_TAKEOVER_MANAGERS: readonly TakeoverManager[] = [
  { name: "kustomize-controller" },
  { name: "kubectl", operation: "Apply" },
  { name: "kubectl-client-side-apply", operation: "Update" },
  { name: "before-first-apply", operation: "Update" },
];

function matches(entry: ManagedFieldsEntry, managers: readonly TakeoverManager[]): boolean {
  if (entry.subresource) return false; // status and scale belong to their controllers
  return managers.some(
    (m) => m.name === entry.manager && (m.operation === undefined || m.operation === entry.operation),
  );
}

/** Deep union of two fieldsV1 trees (`{"f:spec": {"f:replicas": {}}}`). */
export function mergeFields(
  a: Record<string, unknown> | undefined,
  b: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(a ?? {}) };
  for (const [k, v] of Object.entries(b ?? {})) {
    const mine = out[k];
    out[k] =
      mine && typeof mine === "object" && v && typeof v === "object"
        ? mergeFields(mine as Record<string, unknown>, v as Record<string, unknown>)
        : (v ?? mine);
  }
  return out;
}

/**
 * The managedFields with every entry of `managers` folded into `fieldManager`'s Apply entry, or undefined
 * when there is nothing to take over. Pure.
 */
export function takenOverFields(
  live: KubernetesObject,
  fieldManager: string,
  managers: readonly TakeoverManager[] = DEFAULT_TAKEOVER_MANAGERS,
): ManagedFieldsEntry[] | undefined {
  const entries = (live.metadata?.managedFields ?? []) as ManagedFieldsEntry[];
  const taken = entries.filter((e) => matches(e, managers));
  if (taken.length === 0) return undefined;
  const mineIndex = entries.findIndex(
    (e) => e.manager === fieldManager && e.operation === "Apply" && !e.subresource,
  );
  const mine: ManagedFieldsEntry =
    mineIndex >= 0
      ? { ...(entries[mineIndex] as ManagedFieldsEntry) }
      : {
          manager: fieldManager,
          operation: "Apply",
          apiVersion: live.apiVersion ?? taken[0]?.apiVersion,
          fieldsType: "FieldsV1",
          fieldsV1: {},
          time: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        };
  for (const t of taken) mine.fieldsV1 = mergeFields(mine.fieldsV1, t.fieldsV1);
  const kept = entries.filter((e, i) => i !== mineIndex && !matches(e, managers));
  return [...kept, mine];
}

/**
 * Reassigns the fields of `managers` on the live object to `fieldManager` (a merge patch of managedFields,
 * conditional on the resourceVersion read). Returns the updated live object, or `live` when nothing was taken
 * over. Never in a dry run: a preview must not change the cluster.
 */
export async function takeOverFields(
  api: RawObjectApi,
  live: KubernetesObject,
  fieldManager: string,
  managers: readonly TakeoverManager[] = DEFAULT_TAKEOVER_MANAGERS,
): Promise<KubernetesObject> {
  const managedFields = takenOverFields(live, fieldManager, managers);
  if (!managedFields) return live;
  const patch = {
    apiVersion: live.apiVersion,
    kind: live.kind,
    metadata: {
      name: live.metadata?.name,
      ...(live.metadata?.namespace ? { namespace: live.metadata.namespace } : {}),
      resourceVersion: live.metadata?.resourceVersion,
      managedFields,
    },
  } as KubernetesObject;
  return api.patch(patch, undefined, undefined, fieldManager, undefined, PatchStrategy.MergePatch);
}
