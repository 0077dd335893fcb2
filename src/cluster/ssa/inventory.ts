// The set of objects each Kustomization applied, kept in the cluster (a ConfigMap beside where Flux keeps its
// Kustomization status), so the bot holds no state and any replica, or the CLI, sees what to prune.
import { createHash } from "node:crypto";
import { type KubernetesObject, PatchStrategy } from "@kubernetes/client-node";
import { apiStatus, type RawObjectApi } from "../kube-client.js";
import type { Fingerprint } from "./fingerprint.js";
import { objectId } from "./object-id.js";

export const OWNER_NAME_LABEL = "kustomize.toolkit.fluxcd.io/name";
export const OWNER_NAMESPACE_LABEL = "kustomize.toolkit.fluxcd.io/namespace";
const MANAGED_BY = { "app.kubernetes.io/managed-by": "gitops-bot" };
const INVENTORY_LABEL = "gitops-bot.dev/inventory";
const SCOPE_LABEL = "gitops-bot.dev/scope";
const SCOPE_ANNOTATION = "gitops-bot.dev/scope";

export interface InventoryEntry {
  /** `namespace_name_group_kind` */
  id: string;
  /** API version without the group: `v1`, `v1beta1`. */
  v: string;
  /** Hash of the manifest last applied (see fingerprint.ts). */
  h?: string;
  /** Hash of the live object right after that apply (see fingerprint.ts). */
  l?: string;
}

export interface KustomizationKey {
  name: string;
  namespace: string;
}

export interface Inventory {
  owner: KustomizationKey;
  /** Which repository and cluster path the Kustomization came from; a second source may not take it over. */
  scope: string;
  prune: boolean;
  /**
   * What to do with the objects when the Kustomization leaves Git (Flux's `spec.deletionPolicy`); absent:
   * MirrorPrune (delete them when `prune` is true). Recorded here because the Kustomization is gone by then.
   */
  deletionPolicy?: "MirrorPrune" | "Delete" | "WaitForTermination" | "Orphan";
  /** Its objects are in another cluster, reached with this kubeconfig Secret (spec.kubeConfig.secretRef). */
  remote?: { secretName: string; key?: string };
  /** The Kustomization's timeout, for WaitForTermination. */
  timeoutMs?: number;
  /** The user the objects were applied as (an impersonated ServiceAccount); absent: the bot itself. */
  user?: string;
  revision?: string;
  entries: InventoryEntry[];
}

export function inventoryEntries(
  objects: KubernetesObject[],
  fingerprints: ReadonlyMap<string, Fingerprint> = new Map(),
): InventoryEntry[] {
  return objects.map((o) => {
    const id = objectId(o);
    return { id, v: (o.apiVersion ?? "").split("/").at(-1) ?? "", ...fingerprints.get(id) };
  });
}

/** The fingerprints an inventory recorded, for the next apply's fast path. */
export function inventoryFingerprints(inventory: Inventory | undefined): Map<string, Fingerprint> {
  const out = new Map<string, Fingerprint>();
  for (const e of inventory?.entries ?? []) if (e.h && e.l) out.set(e.id, { h: e.h, l: e.l });
  return out;
}

export function apiVersionOf(entry: InventoryEntry): string {
  const group = entry.id.split("_")[2] ?? "";
  return group ? `${group}/${entry.v}` : entry.v;
}

export function scopeHash(scope: string): string {
  return createHash("sha256").update(scope).digest("hex").slice(0, 16);
}

const INVENTORY_PREFIX = "gitops-bot-inventory-";

function configMapName(owner: KustomizationKey): string {
  return `${INVENTORY_PREFIX}${owner.name}`;
}

interface InventoryConfigMap extends KubernetesObject {
  data?: Record<string, string>;
}

function fromConfigMap(cm: InventoryConfigMap): Inventory | undefined {
  const raw = cm.data?.["inventory.json"];
  if (!raw) return undefined;
  return JSON.parse(raw) as Inventory;
}

export async function readInventory(
  api: RawObjectApi,
  owner: KustomizationKey,
): Promise<Inventory | undefined> {
  try {
    const cm = await api.read<InventoryConfigMap>({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: configMapName(owner), namespace: owner.namespace },
    });
    return fromConfigMap(cm);
  } catch (err) {
    if (apiStatus(err) === 404) return undefined;
    throw err;
  }
}

export interface NamespaceInventories {
  /** By owner (Kustomization) name. */
  byOwner: Map<string, Inventory>;
  /** Owners whose inventory ConfigMap does not parse. */
  unreadable: Set<string>;
  /** Owners whose ConfigMap carries the labels and scope annotation writeInventory gives it (so it is listed). */
  labelled: Set<string>;
}

/**
 * The inventories kept in one namespace, by owner name: one LIST by the inventory label instead of a GET per
 * Kustomization (a run reads the inventories of all its Kustomizations of a namespace at once: run-reads.ts).
 * Every inventory writeInventory keeps carries that label.
 */
export async function listNamespaceInventories(
  api: RawObjectApi,
  namespace: string,
): Promise<NamespaceInventories> {
  const out: NamespaceInventories = { byOwner: new Map(), unreadable: new Set(), labelled: new Set() };
  let continueToken: string | undefined;
  do {
    const page = await api.list<InventoryConfigMap>(
      "v1",
      "ConfigMap",
      namespace,
      undefined,
      undefined,
      undefined,
      undefined,
      `${INVENTORY_LABEL}=true`,
      500,
      continueToken,
    );
    for (const cm of page.items) {
      const name = cm.metadata?.name ?? "";
      if (!name.startsWith(INVENTORY_PREFIX)) continue;
      const owner = name.slice(INVENTORY_PREFIX.length);
      // Read as readInventory reads it: whatever the ConfigMap of that name holds. One that does not parse is
      // left to readInventory, whose error fails that Kustomization only.
      try {
        const inventory = fromConfigMap(cm);
        if (inventory) {
          out.byOwner.set(owner, inventory);
          const { labels, annotations } = configMapOf(inventory).metadata ?? {};
          const same = (want: Record<string, string> = {}, have: Record<string, string> = {}) =>
            Object.entries(want).every(([k, v]) => have[k] === v);
          if (same(labels, cm.metadata?.labels) && same(annotations, cm.metadata?.annotations))
            out.labelled.add(owner);
        }
      } catch {
        out.unreadable.add(owner);
      }
    }
    const meta = page.metadata as { continue?: string; _continue?: string } | undefined;
    continueToken = meta?.continue || meta?._continue || undefined;
  } while (continueToken);
  return out;
}

/** All inventories written from one scope (repository + cluster path), across namespaces. */
/** Whether the objects of a Kustomization that left Git are deleted, by its recorded deletionPolicy. */
export function deletesOnRemoval(inventory: Pick<Inventory, "prune" | "deletionPolicy">): boolean {
  switch (inventory.deletionPolicy) {
    case "Delete":
    case "WaitForTermination":
      return true;
    case "Orphan":
      return false;
    default:
      return inventory.prune;
  }
}

export async function listInventories(api: RawObjectApi, scope: string): Promise<Inventory[]> {
  const list = await api.list<InventoryConfigMap>(
    "v1",
    "ConfigMap",
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    `${INVENTORY_LABEL}=true,${SCOPE_LABEL}=${scopeHash(scope)}`,
  );
  return list.items.flatMap((cm) => {
    const inv = fromConfigMap(cm);
    return inv && cm.metadata?.annotations?.[SCOPE_ANNOTATION] === scope ? [inv] : [];
  });
}

/** Whether writing `next` over `recorded` would change nothing (a no-op reconcile records what it read). */
export function sameInventory(recorded: Inventory, next: Inventory): boolean {
  return JSON.stringify(recorded) === JSON.stringify(next);
}

function configMapOf(inventory: Inventory): InventoryConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: configMapName(inventory.owner),
      namespace: inventory.owner.namespace,
      labels: { ...MANAGED_BY, [INVENTORY_LABEL]: "true", [SCOPE_LABEL]: scopeHash(inventory.scope) },
      annotations: { [SCOPE_ANNOTATION]: inventory.scope },
    },
    data: { "inventory.json": JSON.stringify(inventory) },
  };
}

export async function writeInventory(api: RawObjectApi, inventory: Inventory): Promise<void> {
  const cm = configMapOf(inventory);
  // One request in the common case: the namespace is created only when the apply says it is missing.
  try {
    await api.patch(cm, undefined, undefined, "gitops-bot", true, PatchStrategy.ServerSideApply);
  } catch (err) {
    if (apiStatus(err) !== 404) throw err;
    await ensureNamespace(api, inventory.owner.namespace);
    await api.patch(cm, undefined, undefined, "gitops-bot", true, PatchStrategy.ServerSideApply);
  }
}

export async function deleteInventory(api: RawObjectApi, owner: KustomizationKey): Promise<void> {
  try {
    await api.delete({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: configMapName(owner), namespace: owner.namespace },
    });
  } catch (err) {
    if (apiStatus(err) !== 404) throw err;
  }
}

async function ensureNamespace(api: RawObjectApi, name: string): Promise<void> {
  const ns = { apiVersion: "v1", kind: "Namespace", metadata: { name } };
  try {
    await api.read(ns);
  } catch (err) {
    if (apiStatus(err) !== 404) throw err;
    await api.patch(
      { ...ns, metadata: { name, labels: MANAGED_BY } },
      undefined,
      undefined,
      "gitops-bot",
      true,
      PatchStrategy.ServerSideApply,
    );
  }
}
