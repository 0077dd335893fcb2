// What Flux's kustomize-controller applied for a Kustomization, read from the live Flux object's
// `status.inventory`, so that a fleet moving from Flux has the objects Flux applied pruned when they leave Git.
// Used only when the bot has no inventory of its own for that Kustomization yet (its first reconcile). Flux's
// inventory ids have the same form as the bot's (`namespace_name_group_kind`), and Flux labels its objects
// with the same owner labels, so pruning's ownership check holds for them unchanged.
import type { KubernetesObject } from "@kubernetes/client-node";
import { apiMessage, apiStatus, type RawObjectApi } from "../kube-client.js";
import type { InventoryEntry, KustomizationKey } from "./inventory.js";

// v1 is enough: every Flux 2 CRD serves it beside the older versions of the same objects.
const FLUX_KUSTOMIZATION_VERSION = "kustomize.toolkit.fluxcd.io/v1";
const ID = /^[^_]*_[^_]+_[^_]*_[^_]+$/;

interface FluxKustomizationObject extends KubernetesObject {
  status?: { inventory?: { entries?: Array<{ id?: unknown; v?: unknown }> } };
}

/**
 * The entries of the live Flux Kustomization's inventory, or undefined when there is none (no Flux CRD, no such
 * object, or no inventory). Malformed entries are left out. Throws only on API errors other than "not there".
 */
export async function readFluxInventory(
  api: RawObjectApi,
  owner: KustomizationKey,
): Promise<InventoryEntry[] | undefined> {
  let live: FluxKustomizationObject;
  try {
    live = await api.read({
      apiVersion: FLUX_KUSTOMIZATION_VERSION,
      kind: "Kustomization",
      metadata: { name: owner.name, namespace: owner.namespace },
    });
  } catch (err) {
    const status = apiStatus(err);
    // 404: no such object or no such API (Flux not installed); 403: the bot may not read Flux's objects.
    if (status === 404 || status === 403) return undefined;
    throw new Error(
      `reading Flux's Kustomization ${owner.namespace}/${owner.name} (${FLUX_KUSTOMIZATION_VERSION}): ${apiMessage(err)}`,
      { cause: err },
    );
  }
  return entriesOf(live);
}

/**
 * The inventories of every Flux Kustomization of one namespace, by name: one LIST for all the run's
 * Kustomizations there (run-reads.ts). An empty map when the API is not served (Flux not installed); throws
 * on any other error (the caller then reads each one with readFluxInventory).
 */
export async function listFluxInventories(
  api: RawObjectApi,
  namespace: string,
): Promise<Map<string, InventoryEntry[] | undefined>> {
  const out = new Map<string, InventoryEntry[] | undefined>();
  // Discovery (cached by the client): no Flux Kustomization API, no Flux inventory anywhere.
  if ((await api.isNamespaced(FLUX_KUSTOMIZATION_VERSION, "Kustomization")) === undefined) return out;
  let continueToken: string | undefined;
  do {
    let page: { items: FluxKustomizationObject[]; metadata?: unknown };
    try {
      page = await api.list<FluxKustomizationObject>(
        FLUX_KUSTOMIZATION_VERSION,
        "Kustomization",
        namespace,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        500,
        continueToken,
      );
    } catch (err) {
      if (apiStatus(err) === 404) return out;
      throw err;
    }
    for (const item of page.items) out.set(item.metadata?.name ?? "", entriesOf(item));
    const meta = page.metadata as { continue?: string; _continue?: string } | undefined;
    continueToken = meta?.continue || meta?._continue || undefined;
  } while (continueToken);
  return out;
}

function entriesOf(live: FluxKustomizationObject): InventoryEntry[] | undefined {
  const entries = live.status?.inventory?.entries;
  if (!Array.isArray(entries)) return undefined;
  return entries
    .filter(
      (e): e is { id: string; v: string } =>
        typeof e?.id === "string" && ID.test(e.id) && typeof e.v === "string",
    )
    .map((e) => ({ id: e.id, v: e.v }));
}
