// The order a run reconciles its planned objects in: every planned object of every reconciler once what it
// waits for has finished, independent ones in parallel, a slot limit bounding them. A Kustomization that depends
// on nothing is started as soon as its own build is done, while the rest of the tree is still being built (a real
// apply only: a preview needs the whole plan to know which namespaces and CRDs the change creates). Its own
// objects are still all dry-run before any is applied (cluster/ssa/apply.ts); what other Kustomizations build
// cannot change how it is applied. The events of objects started early are held until the run's "planned"
// event has gone out, so reporters and Alerts (compiled from the plan) see every object of the run.

import { type Semaphore, semaphore } from "./concurrency.js";
import {
  createEvent,
  driftEvent,
  eventReasons,
  finishedEvent,
  type ObjectResult,
  outcomeSubject,
  type RunEvent,
  type RunEventSink,
  type RunGraph,
  reportingControllers,
  selfSource,
  startedEvent,
} from "./events.js";
import { DependencyError, dependencyOrder } from "./graph.js";
import type { ReconcileOptions } from "./options.js";
import type { PlannedKustomization, TreePlan } from "./plan.js";
import { type AnyReconciler, type ObjectOutcome, outcomeOf, type ReconcilerKind } from "./reconciler.js";
import { inSlot } from "./slot.js";

interface Node {
  key: string;
  planned: unknown;
  reconciler: AnyReconciler;
}

/** The run's events, held back until `open` (see the file comment). */
export interface EventGate {
  emit: RunEventSink;
  /** Sends `first` (the "planned" event), then what was held, then everything as it comes. */
  open(first?: RunEvent): void;
}

export function eventGate(sink: RunEventSink | undefined): EventGate {
  let open = false;
  const held: RunEvent[] = [];
  return {
    emit: (event) => {
      if (!sink) return;
      if (open) sink(event);
      else held.push(event);
    },
    open: (first) => {
      if (open) return;
      open = true;
      if (!sink) return;
      if (first) sink(first);
      for (const event of held.splice(0)) sink(event);
    },
  };
}

export function emitFinished(opts: ReconcileOptions, outcome: ObjectResult): void {
  opts.onEvent?.({
    type: "object-finished",
    subject: outcomeSubject(outcome),
    outcome,
    event: finishedEvent(outcome, opts.eventMetadata),
  });
  const drift = driftEvent(outcome, opts.eventMetadata);
  if (drift) opts.onEvent?.({ type: "notice", event: drift });
}

export class RunOrder {
  private readonly slots: Semaphore;
  private readonly running = new Map<string, Promise<ObjectOutcome>>();
  /** Objects started before the plan was complete. */
  private readonly early = new Map<string, Node>();

  /** `opts.onEvent` is the run's gate (`gate.emit`); `gate.open` is called once the tree is planned. */
  constructor(
    private readonly reconcilers: AnyReconciler[],
    private readonly opts: ReconcileOptions,
    private readonly gate: EventGate,
  ) {
    this.slots = semaphore(opts.concurrency);
  }

  /** A Kustomization planned while the rest of the tree may still be building: started now if it waits for nothing. */
  built(p: PlannedKustomization): void {
    if (this.opts.dryRun) return;
    const reconciler = this.reconcilers.find((r) => r.kind === "Kustomization");
    if (!reconciler || reconciler.dependsOn(p).length > 0) return;
    const key = reconciler.key(p);
    if (this.running.has(key)) return;
    const n: Node = { key, planned: p, reconciler };
    this.early.set(key, n);
    this.running.set(
      key,
      this.track(
        n,
        this.start(n, async () => refusal(n)),
      ),
    );
  }

  /** How many objects were started before the plan was complete. */
  get startedEarly(): number {
    return this.early.size;
  }

  /**
   * Waits for what was started early, when the tree could not be planned: their results, their events sent after
   * a "planned" event of what was started.
   */
  async settle(): Promise<Map<ReconcilerKind, ObjectOutcome[]>> {
    this.gate.open(
      this.early.size > 0
        ? this.plannedEvent(
            runGraph(this.early, () => []),
            `${this.early.size} Kustomization(s) started from ${this.opts.clusterPath} before planning stopped`,
          )
        : undefined,
    );
    return this.byKind(await this.finished([...this.early.keys()]));
  }

  /** Waits for everything started (whatever stopped the run before its end); sends what the gate held. */
  async drain(): Promise<void> {
    this.gate.open();
    await Promise.allSettled([...this.running.values()]);
  }

  /** Every planned object in dependency order (see the file comment); what started early is waited for. */
  async reconcileAll(plan: TreePlan, errors: string[]): Promise<Map<ReconcilerKind, ObjectOutcome[]>> {
    const nodes = new Map<string, Node>();
    const children = new Map<string, string[]>();
    for (const reconciler of this.reconcilers) {
      for (const planned of reconciler.planned(plan)) {
        const key = reconciler.key(planned);
        nodes.set(key, this.early.get(key) ?? { key, planned, reconciler });
        const parent = reconciler.parent(planned);
        if (parent && reconciler.kind !== "Kustomization") {
          const siblings = children.get(parent);
          if (siblings) siblings.push(key);
          else children.set(parent, [key]);
        }
      }
    }
    const declaredDeps = (n: Node) => n.reconciler.dependsOn(n.planned);
    const waitsForChildren = (key: string) => {
      const n = nodes.get(key);
      return n?.reconciler.waitsForChildren(n.planned) === true;
    };
    /** Every node `n` waits for: its dependencies (with their children when they wait) and its parent. */
    const edges = (n: Node): string[] => {
      const deps = declaredDeps(n).filter((d) => nodes.has(d));
      const out = [...deps, ...deps.filter(waitsForChildren).flatMap((d) => children.get(d) ?? [])];
      const parent = n.reconciler.parent(n.planned);
      if (n.reconciler.kind !== "Kustomization" && parent && nodes.has(parent)) out.push(parent);
      return out;
    };
    this.gate.open(
      this.plannedEvent(
        runGraph(nodes, edges),
        `${plan.kustomizations.length} Kustomization(s) and ${plan.helmReleases.length} HelmRelease(s) planned from ${this.opts.clusterPath}`,
      ),
    );
    // A missing dependency fails only the node that names it (and, through it, its dependents).
    const missing = new Map<string, string>();
    for (const n of nodes.values()) {
      const absent = declaredDeps(n).filter((d) => !nodes.has(d));
      if (absent.length > 0) missing.set(n.key, `dependency ${absent.join(", ")} not found`);
    }
    try {
      dependencyOrder([...nodes.values()].map((n) => ({ key: n.key, dependsOn: edges(n) })));
    } catch (err) {
      if (!(err instanceof DependencyError)) throw err;
      errors.push(err.message);
      // Nothing in a cycle depends on nothing: what started early is outside it, and finishes.
      return this.byKind(await this.finished([...this.early.keys()]));
    }

    const reconcileKey = (key: string): Promise<ObjectOutcome> => {
      const existing = this.running.get(key);
      if (existing) return existing;
      const n = nodes.get(key) as Node;
      const { reconciler, planned } = n;
      const waitFor = async (): Promise<ObjectOutcome | undefined> => {
        const waited = await Promise.all(
          edges(n).map(async (d) => ({ key: d, result: await reconcileKey(d) })),
        );
        const parent = reconciler.kind !== "Kustomization" ? reconciler.parent(planned) : undefined;
        const refused = refusal(n);
        if (refused) return refused;
        const notReady = waited.filter(
          (w) => w.result.status !== "Ready" && !(w.key === parent && w.result.status === "Suspended"),
        );
        const subject = (w: { key: string; result: ObjectOutcome }) =>
          w.key.startsWith("HelmRelease/") ? w.key : `${w.result.namespace}/${w.result.name}`;
        const missingDep = missing.get(key);
        if (missingDep) return reconciler.failed(planned, missingDep);
        if (notReady.length > 0)
          return reconciler.dependencyNotReady(
            planned,
            `dependency ${notReady.map(subject).join(", ")} is not ready`,
          );
        return undefined;
      };
      const promise = this.track(n, this.start(n, waitFor));
      this.running.set(key, promise);
      return promise;
    };
    return this.byKind(
      new Map(
        await Promise.all([...nodes.keys()].map(async (key) => [key, await reconcileKey(key)] as const)),
      ),
      plan,
    );
  }

  /** The run's "planned" event: what will be reconciled (the graph), said as `message`. */
  private plannedEvent(graph: RunGraph, message: string): RunEvent {
    return {
      type: "planned",
      graph,
      event: createEvent({
        involvedObject: selfSource(this.opts.selfSourceNames[0]),
        severity: "info",
        reason: eventReasons.progressing,
        message,
        reportingController: reportingControllers.kustomize,
        ...(this.opts.eventMetadata ? { metadata: this.opts.eventMetadata } : {}),
      }),
    };
  }

  /** One node: stopped by what it waited for (`waitFor` says why: refused, a dependency), else reconciled in a slot. */
  private async start(n: Node, waitFor: () => Promise<ObjectOutcome | undefined>): Promise<ObjectOutcome> {
    const { reconciler, key } = n;
    const stopped = await waitFor();
    if (stopped) return stopped;
    await this.slots.acquire();
    // The reconciler may hand its slot on while it only waits (slot.ts); it is released once either way.
    return inSlot(this.slots.release, async () => {
      const opts = this.opts;
      opts.onProgress?.({ type: "started", kustomization: key, kind: reconciler.kind });
      if (opts.onEvent) {
        const object = nodeObject(n);
        opts.onEvent({
          type: "object-started",
          subject: `${object.kind}/${object.namespace}/${object.name}`,
          event: startedEvent(object, opts.eventMetadata),
        });
      }
      const r = await reconcileNode(n, opts);
      opts.onProgress?.({ type: "finished", kustomization: key, status: r.status });
      return r;
    });
  }

  private track(n: Node, outcome: Promise<ObjectOutcome>): Promise<ObjectOutcome> {
    return outcome.then((r) => {
      emitFinished(this.opts, outcomeOf(n.reconciler.kind, r));
      return r;
    });
  }

  private async finished(keys: string[]): Promise<Map<string, ObjectOutcome>> {
    const out = new Map<string, ObjectOutcome>();
    for (const key of keys) {
      const running = this.running.get(key);
      if (running) out.set(key, await running);
    }
    return out;
  }

  /** Results by kind, in plan order (or in the order they started, without a plan). */
  private byKind(results: Map<string, ObjectOutcome>, plan?: TreePlan): Map<ReconcilerKind, ObjectOutcome[]> {
    const byKind = new Map<ReconcilerKind, ObjectOutcome[]>();
    for (const reconciler of this.reconcilers) {
      const keys = plan
        ? reconciler.planned(plan).map((p) => reconciler.key(p))
        : [...this.early.values()].filter((n) => n.reconciler === reconciler).map((n) => n.key);
      byKind.set(
        reconciler.kind,
        keys.flatMap((k) => {
          const r = results.get(k);
          return r ? [r] : [];
        }),
      );
    }
    return byKind;
  }
}

/** The failed result of a node the tenancy policy refuses. */
function refusal(n: Node): ObjectOutcome | undefined {
  const refused = n.reconciler.refused(n.planned);
  return refused ? n.reconciler.failed(n.planned, refused) : undefined;
}

function nodeObject(n: Node): { kind: ReconcilerKind; namespace: string; name: string } {
  return { kind: n.reconciler.kind, ...n.reconciler.object(n.planned) };
}

/** The dependency graph by subject (`Kind/namespace/name`), for reporters that draw it. */
function runGraph(nodes: Map<string, Node>, edges: (n: Node) => string[]): RunGraph {
  const subjectOfKey = (key: string) => {
    const o = nodeObject(nodes.get(key) as Node);
    return `${o.kind}/${o.namespace}/${o.name}`;
  };
  const graph: RunGraph = { nodes: [], edges: [] };
  for (const n of nodes.values()) {
    graph.nodes.push({ ...nodeObject(n), subject: subjectOfKey(n.key) });
    for (const dep of new Set(edges(n)))
      graph.edges.push({ from: subjectOfKey(dep), to: subjectOfKey(n.key) });
  }
  return graph;
}

/**
 * One node, whatever happens: an API server that fails mid-way (an unreadable inventory, a refused write)
 * fails this Kustomization or HelmRelease only, never the run, and never goes unreported.
 */
async function reconcileNode(n: Node, opts: ReconcileOptions): Promise<ObjectOutcome> {
  const started = Date.now();
  try {
    return await n.reconciler.reconcile(n.planned);
  } catch (err) {
    const o = nodeObject(n);
    const message = `${o.kind}/${o.namespace}/${o.name}: ${(err as Error).message}`;
    opts.log?.warn({ err, object: n.key }, "reconcile of one object failed");
    return { ...n.reconciler.failed(n.planned, message), durationMs: Date.now() - started };
  }
}
