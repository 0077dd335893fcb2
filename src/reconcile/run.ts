// The run loop: plan the tree, then reconcile every planned object (each kind through its Reconciler:
// reconcilers.ts) once its dependencies are Ready, independent ones in parallel, and prune what left Git.
// Knows nothing about GitHub.
import type { KubernetesObject } from "@kubernetes/client-node";
import { prepareWorkTree } from "../build/kustomize.js";
import { substituteObject } from "../build/substitute.js";
import { mayApply } from "../cluster/access-review.js";
import type { RawObjectApi } from "../cluster/kube-client.js";
import { definitionsOfPlan } from "../cluster/ssa/pending-definitions.js";
import { type FluxKustomization, kustomizationKey } from "../flux/kustomization.js";
import { defaultCacheDir } from "../source/cache.js";
import { clusterSecretReader } from "../source/credentials.js";
import { SourceResolver } from "../source/resolver.js";
import { scrubSecrets } from "../util/secret-scrub.js";
import { clientFor } from "./acting-client.js";
import { semaphore } from "./concurrency.js";
import {
  createEvent,
  driftEvent,
  eventReasons,
  finishedEvent,
  type ObjectResult,
  outcomeSubject,
  type RunGraph,
  reportingControllers,
  safeSink,
  selfSource,
  startedEvent,
} from "./events.js";
import { DependencyError, dependencyOrder } from "./graph.js";
import type { ReconcileOptions } from "./options.js";
import { planTree, type TreePlan } from "./plan.js";
import { postBuildVars } from "./post-build-vars.js";
import { type AnyReconciler, type ObjectOutcome, outcomeOf, type ReconcilerKind } from "./reconciler.js";
import { RECONCILERS } from "./reconcilers.js";
import type { HelmReleaseResult, KustomizationResult, RunResult } from "./result.js";
import { setRunPlan } from "./run-reads.js";
import { inSlot } from "./slot.js";
import { listSuspended, type Suspension } from "./suspension.js";
import { tenantSecretReader } from "./tenancy.js";

export { buildTree } from "./build-tree.js";
export {
  defaultReconcileOptions,
  type ProgressEvent,
  type ReconcileOptions,
  type ReconcileTrigger,
} from "./options.js";
/** Masks every form of every secret value in text (see util/secret-scrub). */
export { scrubSecrets };

/** The Flux objects of a build, substituted with the Kustomization's post-build variables (read as it acts). */
async function substituteFluxObjects(
  api: RawObjectApi,
  ks: FluxKustomization,
  objects: KubernetesObject[],
  opts: ReconcileOptions,
): Promise<{ objects: KubernetesObject[]; secretValues: string[] }> {
  const { vars, secretValues } = await postBuildVars(clientFor(api, opts, ks).api, ks, {
    readSecrets: !opts.untrusted,
    tenancy: opts.tenancy,
  });
  return { objects: objects.map((o) => substituteObject(o, vars)), secretValues };
}

/**
 * Flux applies the Flux objects a Kustomization's build contains with that Kustomization's identity, so its
 * ServiceAccount must be allowed to. The engine reconciles them itself instead, so it asks the API server
 * whether the ServiceAccount could apply each, and follows none when one is refused.
 */
async function admitFluxObjects(
  api: RawObjectApi,
  ks: FluxKustomization,
  objects: KubernetesObject[],
  opts: ReconcileOptions,
): Promise<string | undefined> {
  let client: ReturnType<typeof clientFor>;
  try {
    client = clientFor(api, opts, ks);
  } catch (err) {
    return (err as Error).message;
  }
  if (!client.user) return undefined;
  const refused: string[] = [];
  for (const o of objects) {
    const namespace = o.metadata?.namespace ?? "flux-system";
    try {
      if (!(await mayApply(client.api, o, namespace)))
        refused.push(`${o.kind}/${namespace}/${o.metadata?.name}`);
    } catch (err) {
      return `cannot check what ${client.user} may apply: ${(err as Error).message}`;
    }
  }
  if (refused.length === 0) return undefined;
  return `${client.user} may not apply ${refused.join(", ")} (RBAC); none of the Flux objects of this build is reconciled`;
}

export async function reconcileTree(api: RawObjectApi, given: ReconcileOptions): Promise<RunResult> {
  const emit = safeSink(given.onEvent, (err) => given.log?.warn({ err }, "an event subscriber failed"));
  const result = await reconcileTreeOnce(api, { ...given, onEvent: emit });
  const failed = result.errors.length > 0;
  emit({
    type: "run-finished",
    result,
    event: createEvent({
      involvedObject: selfSource(given.selfSourceNames[0]),
      severity: failed ? "error" : "info",
      reason: failed ? eventReasons.reconciliationFailed : eventReasons.reconciliationSucceeded,
      message: failed
        ? (result.errors[0] ?? "reconciliation failed")
        : `${result.kustomizations.length} Kustomization(s) and ${result.helmReleases?.length ?? 0} HelmRelease(s) reconciled from ${result.clusterPath} in ${result.durationMs} ms`,
      reportingController: reportingControllers.kustomize,
      ...(given.eventMetadata ? { metadata: given.eventMetadata } : {}),
    }),
  });
  return result;
}

/** `/gitops suspend` marks; a cluster where the bot may not list ConfigMaps has none it could have written. */
async function suspendedKustomizations(
  api: RawObjectApi,
  options: ReconcileOptions,
): Promise<Map<string, Suspension>> {
  try {
    return await listSuspended(api);
  } catch (err) {
    options.log?.debug({ err }, "cannot list suspended Kustomizations");
    return new Map();
  }
}

function emitFinished(opts: ReconcileOptions, outcome: ObjectResult): void {
  opts.onEvent?.({
    type: "object-finished",
    subject: outcomeSubject(outcome),
    outcome,
    event: finishedEvent(outcome, opts.eventMetadata),
  });
  const drift = driftEvent(outcome, opts.eventMetadata);
  if (drift) opts.onEvent?.({ type: "notice", event: drift });
}

async function reconcileTreeOnce(api: RawObjectApi, given: ReconcileOptions): Promise<RunResult> {
  const started = Date.now();
  // Remote kustomize resources are never fetched for changes from outside the repository, whoever asks.
  const options: ReconcileOptions = given.untrusted
    ? { ...given, kustomize: { ...given.kustomize, allowRemoteResources: false } }
    : { ...given };
  const result: RunResult = {
    clusterPath: options.clusterPath,
    dryRun: options.dryRun,
    kustomizations: [],
    errors: [],
    durationMs: 0,
  };
  const work = prepareWorkTree(options.repoDir);
  const resolver = new SourceResolver({
    selfSourceNames: options.selfSourceNames,
    selfDir: work.dir,
    cacheDir: options.cacheDir ?? defaultCacheDir(),
    ...(options.maxSourceTimeoutMs !== undefined ? { maxTimeoutMs: options.maxSourceTimeoutMs } : {}),
    ...(options.outbound ? { outbound: options.outbound } : {}),
    secrets: options.untrusted
      ? async (namespace, name) => {
          throw new Error(
            `credentials Secret ${namespace}/${name} are not used for changes from outside the repository (a fork's pull request)`,
          );
        }
      : tenantSecretReader(clusterSecretReader(api), options.tenancy),
  });
  const suspended = await suspendedKustomizations(api, options);
  const reconcilers = Object.values(RECONCILERS).map(
    (make): AnyReconciler => make({ api, resolver, options, suspended }),
  );
  try {
    let plan: TreePlan;
    try {
      plan = await planTree(
        work,
        {
          ...options,
          admitFluxObjects: (ks, objects) => admitFluxObjects(api, ks, objects, options),
          substituteFluxObjects: (ks, objects) => substituteFluxObjects(api, ks, objects, options),
        },
        resolver,
      );
    } catch (err) {
      result.errors.push((err as Error).message);
      return result;
    }
    for (const note of plan.notes) options.log?.info({ clusterPath: options.clusterPath }, note);
    // The reconcilers share the run's reads across what they reconcile (run-reads.ts).
    setRunPlan(options, plan);
    // Read by the reconcilers (which hold this options object) when they dry-run: see pending-definitions.ts.
    if (options.dryRun) options.createdInChange = definitionsOfPlan(plan.kustomizations);
    options.onProgress?.({
      type: "planned",
      kustomizations: plan.kustomizations.length,
      keys: {
        kustomizations: plan.kustomizations.map((p) => kustomizationKey(p.ks)),
        helmReleases: plan.helmReleases.map((p) => `${p.hr.namespace}/${p.hr.name}`),
      },
    });
    const done = await reconcileInOrder(plan, reconcilers, options, result);
    if (result.errors.length === 0) {
      for (const reconciler of reconcilers) {
        const removed = await reconciler.pruneRemoved(reconciler.planned(plan));
        if (removed.error) result.errors.push(removed.error);
        for (const r of removed.results) emitFinished(options, outcomeOf(reconciler.kind, r));
        done.get(reconciler.kind)?.push(...removed.results);
      }
    }
    result.kustomizations = (done.get("Kustomization") ?? []) as KustomizationResult[];
    const helmReleases = (done.get("HelmRelease") ?? []) as HelmReleaseResult[];
    if (helmReleases.length > 0) result.helmReleases = helmReleases;
    const sources = resolver.results();
    if (sources.length > 0) result.sources = sources;
    return result;
  } finally {
    for (const reconciler of reconcilers) reconciler.cleanup?.();
    work.cleanup();
    result.durationMs = Date.now() - started;
  }
}

interface Node {
  key: string;
  planned: unknown;
  reconciler: AnyReconciler;
}

/**
 * Every planned object of every reconciler in dependency order, independent ones in parallel. An object comes
 * after the one whose build contained it (a HelmRelease after its Kustomization); an object whose reconciler
 * says it waits for its children (a Kustomization with `wait: true`) is ready for its dependents only when what
 * its build contained is (as Flux's health check of the HelmRelease objects would say).
 */
async function reconcileInOrder(
  plan: TreePlan,
  reconcilers: AnyReconciler[],
  opts: ReconcileOptions,
  run: RunResult,
): Promise<Map<ReconcilerKind, ObjectOutcome[]>> {
  const nodes = new Map<string, Node>();
  const children = new Map<string, string[]>();
  for (const reconciler of reconcilers) {
    for (const planned of reconciler.planned(plan)) {
      const key = reconciler.key(planned);
      nodes.set(key, { key, planned, reconciler });
      const parent = reconciler.parent(planned);
      if (parent && reconciler.kind !== "Kustomization")
        children.set(parent, [...(children.get(parent) ?? []), key]);
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
  opts.onEvent?.({
    type: "planned",
    graph: runGraph(nodes, edges),
    event: createEvent({
      involvedObject: selfSource(opts.selfSourceNames[0]),
      severity: "info",
      reason: eventReasons.progressing,
      message: `${plan.kustomizations.length} Kustomization(s) and ${plan.helmReleases.length} HelmRelease(s) planned from ${opts.clusterPath}`,
      reportingController: reportingControllers.kustomize,
      ...(opts.eventMetadata ? { metadata: opts.eventMetadata } : {}),
    }),
  });
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
    run.errors.push(err.message);
    return new Map();
  }

  // Each node starts when all it waits for has finished; a slot limit bounds parallelism.
  const { acquire, release } = semaphore(opts.concurrency);
  const running = new Map<string, Promise<ObjectOutcome>>();
  const reconcileKey = (key: string): Promise<ObjectOutcome> => {
    const existing = running.get(key);
    if (existing) return existing;
    const n = nodes.get(key) as Node;
    const { reconciler, planned } = n;
    const reconciled = (async (): Promise<ObjectOutcome> => {
      const waited = await Promise.all(
        edges(n).map(async (d) => ({ key: d, result: await reconcileKey(d) })),
      );
      const parent = reconciler.kind !== "Kustomization" ? reconciler.parent(planned) : undefined;
      const refused = reconciler.refused(planned);
      if (refused) return reconciler.failed(planned, refused);
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
      await acquire();
      // The reconciler may hand its slot on while it only waits (slot.ts); it is released once either way.
      return inSlot(release, async () => {
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
    })();
    const promise = reconciled.then((r) => {
      emitFinished(opts, outcomeOf(reconciler.kind, r));
      return r;
    });
    running.set(key, promise);
    return promise;
  };
  const results = new Map<string, ObjectOutcome>();
  await Promise.all([...nodes.keys()].map(async (key) => results.set(key, await reconcileKey(key))));
  const byKind = new Map<ReconcilerKind, ObjectOutcome[]>();
  for (const reconciler of reconcilers) {
    byKind.set(
      reconciler.kind,
      reconciler.planned(plan).map((p) => results.get(reconciler.key(p)) as ObjectOutcome),
    );
  }
  return byKind;
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
