// Reads shared by the Kustomizations of one run: each namespace's inventories and Flux Kustomizations are
// listed once (instead of a GET or two per Kustomization), and the live objects of a (namespace, kind) the run
// applies many of are listed once per identity (live-index.ts). Everything here is read during the run and
// dropped with it: nothing is kept across runs, so a cold run is as cold as before.
import type { RawObjectApi } from "../cluster/kube-client.js";
import { listFluxInventories, readFluxInventory } from "../cluster/ssa/flux-inventory.js";
import {
  type Inventory,
  type InventoryEntry,
  type KustomizationKey,
  listNamespaceInventories,
  type NamespaceInventories,
  readInventory,
  sameInventory,
} from "../cluster/ssa/inventory.js";
import { SharedLiveLists } from "../cluster/ssa/live-index.js";
import type { ReconcileOptions } from "./options.js";
import type { PlannedKustomization, TreePlan } from "./plan.js";

/**
 * The Kustomizations of the run an options object belongs to, as planning finds them: run.ts adds each once it
 * is built (a Kustomization may be applied while others are still being built) and the whole plan at its end.
 * The reconcilers hold the same options object, as they do for `createdInChange`.
 */
export class RunPlan {
  /** In the order they were added. */
  readonly kustomizations = new Set<PlannedKustomization>();
  private readonly listeners: Array<(p: PlannedKustomization) => void> = [];
  add(p: PlannedKustomization): void {
    if (this.kustomizations.has(p)) return;
    this.kustomizations.add(p);
    for (const listener of this.listeners) listener(p);
  }

  complete(plan: TreePlan): void {
    for (const p of plan.kustomizations) this.add(p);
  }

  /** Called with every Kustomization added from now on. */
  onAdd(listener: (p: PlannedKustomization) => void): void {
    this.listeners.push(listener);
  }
}

const plans = new WeakMap<ReconcileOptions, RunPlan>();

export function runPlanOf(options: ReconcileOptions): RunPlan {
  let plan = plans.get(options);
  if (!plan) {
    plan = new RunPlan();
    plans.set(options, plan);
  }
  return plan;
}

/** What a Kustomization will apply, for the run's shared LISTs. */
function demandOf(p: PlannedKustomization) {
  return p.objects.map((object) => ({ object, defaultNamespace: p.ks.spec.targetNamespace ?? "default" }));
}

export class RunReads {
  private readonly inventories = new Map<string, Promise<NamespaceInventories | undefined>>();
  private readonly fluxInventories = new Map<
    string,
    Promise<Map<string, InventoryEntry[] | undefined> | undefined>
  >();
  private readonly lists = new Map<string, SharedLiveLists>();

  constructor(
    private readonly api: RawObjectApi,
    private readonly plan: RunPlan,
  ) {
    plan.onAdd((p) => {
      for (const lists of this.lists.values()) lists.want(demandOf(p));
    });
  }

  /** The bot's inventory of a Kustomization, from its namespace's one LIST (a GET when that LIST failed). */
  async inventory(owner: KustomizationKey): Promise<Inventory | undefined> {
    let listed = this.inventories.get(owner.namespace);
    if (!listed) {
      listed = listNamespaceInventories(this.api, owner.namespace).catch(() => undefined);
      this.inventories.set(owner.namespace, listed);
    }
    const inventories = await listed;
    if (!inventories || inventories.unreadable.has(owner.name)) return readInventory(this.api, owner);
    return inventories.byOwner.get(owner.name);
  }

  /**
   * Whether the inventory this run listed already is `next`, ConfigMap labels and annotation included: then
   * writing it would change nothing (a no-op reconcile), and one request per Kustomization is saved.
   */
  async recorded(next: Inventory): Promise<boolean> {
    const inventories = await this.inventories.get(next.owner.namespace);
    const recorded = inventories?.byOwner.get(next.owner.name);
    return (
      recorded !== undefined &&
      inventories?.labelled.has(next.owner.name) === true &&
      sameInventory(recorded, next)
    );
  }

  /** Flux's inventory of a Kustomization, from its namespace's one LIST (a GET each when that LIST failed). */
  async fluxInventory(owner: KustomizationKey): Promise<InventoryEntry[] | undefined> {
    let listed = this.fluxInventories.get(owner.namespace);
    if (!listed) {
      listed = listFluxInventories(this.api, owner.namespace).catch(() => undefined);
      this.fluxInventories.set(owner.namespace, listed);
    }
    const inventories = await listed;
    if (!inventories) return readFluxInventory(this.api, owner);
    return inventories.get(owner.name);
  }

  /**
   * The run's shared LISTs of live objects for one identity (`user`: the impersonated ServiceAccount, or
   * undefined for the bot itself): what one identity listed is never read by another.
   */
  liveLists(api: RawObjectApi, user: string | undefined): SharedLiveLists {
    const key = user ?? "";
    let lists = this.lists.get(key);
    if (!lists) {
      lists = new SharedLiveLists(api, [...this.plan.kustomizations].flatMap(demandOf));
      this.lists.set(key, lists);
    }
    return lists;
  }
}
