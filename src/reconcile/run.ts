// The run loop: plan the tree and reconcile every planned object (each kind through its Reconciler:
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
import { createEvent, eventReasons, reportingControllers, safeSink, selfSource } from "./events.js";
import type { ReconcileOptions } from "./options.js";
import { planTree, type TreePlan } from "./plan.js";
import { postBuildVars } from "./post-build-vars.js";
import { type AnyReconciler, outcomeOf } from "./reconciler.js";
import { RECONCILERS } from "./reconcilers.js";
import type { HelmReleaseResult, KustomizationResult, RunResult } from "./result.js";
import { emitFinished, eventGate, RunOrder } from "./run-order.js";
import { runPlanOf } from "./run-reads.js";
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
  // The run's events wait for its "planned" event; objects started while the tree is built are held (run-order.ts).
  const gate = eventGate(options.onEvent);
  options.onEvent = gate.emit;
  const reconcilers = Object.values(RECONCILERS).map(
    (make): AnyReconciler => make({ api, resolver, options, suspended }),
  );
  const order = new RunOrder(reconcilers, options, gate);
  // The reconcilers share the run's reads across what they reconcile (run-reads.ts), as it is planned.
  const runPlan = runPlanOf(options);
  try {
    let plan: TreePlan;
    try {
      plan = await planTree(
        work,
        {
          ...options,
          admitFluxObjects: (ks, objects) => admitFluxObjects(api, ks, objects, options),
          substituteFluxObjects: (ks, objects) => substituteFluxObjects(api, ks, objects, options),
          onBuilt: (p) => {
            runPlan.add(p);
            order.built(p);
          },
        },
        resolver,
      );
    } catch (err) {
      // What was started before planning failed finishes and is reported; nothing else is reconciled.
      const early = order.startedEarly;
      result.errors.push(
        early > 0
          ? `${(err as Error).message} (${early} Kustomization(s) that depend on nothing were reconciled before planning stopped)`
          : (err as Error).message,
      );
      const started = await order.settle();
      result.kustomizations = (started.get("Kustomization") ?? []) as KustomizationResult[];
      return result;
    }
    for (const note of plan.notes) options.log?.info({ clusterPath: options.clusterPath }, note);
    runPlan.complete(plan);
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
    const done = await order.reconcileAll(plan, result.errors);
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
    // Nothing the run started goes on after it (an exception above left objects running): waited for first.
    await order.drain();
    for (const reconciler of reconcilers) reconciler.cleanup?.();
    work.cleanup();
    result.durationMs = Date.now() - started;
  }
}
