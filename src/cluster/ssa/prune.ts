// Garbage collection: delete what left Git. Only objects that carry our ownership labels for this very
// Kustomization are deleted, never those annotated `kustomize.toolkit.fluxcd.io/prune: disabled`; namespaced
// objects go first and cluster definitions (Namespaces, CRDs) last, the reverse of apply.
import type { KubernetesObject } from "@kubernetes/client-node";
import { mapLimit } from "../../reconcile/concurrency.js";
import type { RawObjectApi } from "../kube-client.js";
import { isClusterDefinition } from "./apply.js";
import { ChangeSet, type ChangeSetEntry } from "./changeset.js";
import { RECONCILE_ANNOTATION, reconcileDisabled } from "./drift.js";
import { ObjectError } from "./errors.js";
import {
  apiVersionOf,
  type InventoryEntry,
  type KustomizationKey,
  OWNER_NAME_LABEL,
  OWNER_NAMESPACE_LABEL,
} from "./inventory.js";
import { parseObjectId } from "./object-id.js";
import { getLive } from "./read.js";

export const PRUNE_ANNOTATION = "kustomize.toolkit.fluxcd.io/prune";

export interface DeleteOptions {
  dryRun: boolean;
  concurrency: number;
  owner: KustomizationKey;
}

export interface DeleteResult {
  changeSet: ChangeSet;
  errors: ObjectError[];
}

/** Entries of `previous` that are not in `current`, in their original order. */
export function staleEntries(previous: InventoryEntry[], current: InventoryEntry[]): InventoryEntry[] {
  const keep = new Set(current.map((e) => e.id));
  return previous.filter((e) => !keep.has(e.id));
}

export async function deleteStaleObjects(
  api: RawObjectApi,
  stale: InventoryEntry[],
  opts: DeleteOptions,
): Promise<DeleteResult> {
  const changeSet = new ChangeSet();
  const errors: ObjectError[] = [];
  const refs: KubernetesObject[] = stale.map((entry) => {
    const { namespace, name, kind } = parseObjectId(entry.id);
    return { apiVersion: apiVersionOf(entry), kind, metadata: { name, ...(namespace ? { namespace } : {}) } };
  });
  const deleteOne = async (ref: KubernetesObject) => {
    try {
      const live = await getLive(api, ref);
      if (!live) return;
      const labels = live.metadata?.labels ?? {};
      if (
        labels[OWNER_NAME_LABEL] !== opts.owner.name ||
        labels[OWNER_NAMESPACE_LABEL] !== opts.owner.namespace
      ) {
        changeSet.add(live, "skipped", { reason: "not owned by this Kustomization" });
        return;
      }
      if (live.metadata?.annotations?.[PRUNE_ANNOTATION] === "disabled") {
        changeSet.add(live, "skipped", { reason: `${PRUNE_ANNOTATION}: disabled` });
        return;
      }
      if (reconcileDisabled(live)) {
        changeSet.add(live, "skipped", { reason: `${RECONCILE_ANNOTATION}: disabled` });
        return;
      }
      if (!opts.dryRun) await api.delete(ref, undefined, undefined, undefined, undefined, "Background");
      changeSet.add(live, "deleted");
    } catch (err) {
      errors.push(err instanceof ObjectError ? err : ObjectError.from(ref, "delete", err));
    }
  };
  const [definitions, rest] = [refs.filter(isClusterDefinition), refs.filter((r) => !isClusterDefinition(r))];
  await mapLimit(rest.reverse(), opts.concurrency, deleteOne);
  for (const def of definitions.reverse()) await deleteOne(def);
  return { changeSet, errors };
}

/**
 * Waits until every object the entries say were deleted is gone (finalizers done), for Flux's deletionPolicy
 * WaitForTermination; returns the subjects still there after `timeoutMs`.
 */
export async function waitForDeletion(
  api: RawObjectApi,
  entries: readonly ChangeSetEntry[],
  timeoutMs: number,
  intervalMs = 500,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let pending = entries.filter((e) => e.action === "deleted");
  for (;;) {
    const still = await mapLimit(pending, 8, async (e) => {
      const { namespace, name, kind } = parseObjectId(e.id);
      const ref = { apiVersion: e.apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) } };
      return (await getLive(api, ref)) ? e : undefined;
    });
    pending = still.filter((e): e is ChangeSetEntry => e !== undefined);
    if (pending.length === 0 || Date.now() >= deadline) return pending.map((e) => e.subject);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
