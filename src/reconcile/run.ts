// The run loop: plan the tree, then reconcile each Kustomization once its dependencies are Ready —
// substitute, label, apply (or dry-run), record the inventory, prune, wait for health — independent ones in
// parallel. Kustomizations that left Git have their objects pruned. Knows nothing about GitHub.
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { prepareWorkTree } from "../build/kustomize.js";
import { SubstitutionError, substituteObject } from "../build/substitute.js";
import { mayApply } from "../cluster/access-review.js";
import { impersonatedKubeConfig, type RawObjectApi } from "../cluster/kube-client.js";
import { applyAllStaged, defaultApplyOptions } from "../cluster/ssa/apply.js";
import { ChangeSet } from "../cluster/ssa/changeset.js";
import {
  deleteInventory,
  type Inventory,
  inventoryEntries,
  inventoryFingerprints,
  listInventories,
  OWNER_NAME_LABEL,
  OWNER_NAMESPACE_LABEL,
  readInventory,
  writeInventory,
} from "../cluster/ssa/inventory.js";
import { secretValuesOf } from "../cluster/ssa/mask-secrets.js";
import { objectId, parseObjectId, subjectOf } from "../cluster/ssa/object-id.js";
import { deleteStaleObjects, staleEntries } from "../cluster/ssa/prune.js";
import { waitForHealthy } from "../cluster/ssa/wait.js";
import { type FluxHelmRelease, helmReleaseKey } from "../flux/helm-release.js";
import { type FluxKustomization, kustomizationKey } from "../flux/kustomization.js";
import type { HelmLimits } from "../helm/helm-cli.js";
import { HelmRunner, kubeConfigOf } from "../helm/run-helm-releases.js";
import { defaultCacheDir } from "../source/cache.js";
import { clusterSecretReader } from "../source/credentials.js";
import { SourceResolver } from "../source/resolver.js";
import { maskRemovedValues } from "../util/diff-mask.js";
import type { OutboundPolicy } from "../util/outbound/index.js";
import { scrubCredentials, scrubSecrets } from "../util/secret-scrub.js";
import { mapLimit, semaphore } from "./concurrency.js";
import {
  createEvent,
  driftEvent,
  type EventMetadata,
  eventReasons,
  finishedEvent,
  type ObjectResult,
  outcomeSubject,
  type RunEventSink,
  type RunGraph,
  reportingControllers,
  safeSink,
  selfSource,
  startedEvent,
} from "./events.js";
import { DependencyError, dependencyOrder } from "./graph.js";
import {
  defaultPlanOptions,
  type PlannedHelmRelease,
  type PlannedKustomization,
  type PlanOptions,
  planTree,
  type TreePlan,
} from "./plan.js";
import { postBuildVars } from "./post-build-vars.js";
import {
  describeViolations,
  impersonatedUser,
  namespaceRefusal,
  objectViolations,
  tenantSecretReader,
  type Violation,
} from "./tenancy.js";

/** Masks every form of every secret value in text (see util/secret-scrub). */
export { scrubSecrets };

import type { HelmReleaseResult, KustomizationResult, RunResult } from "./result.js";

export type ProgressEvent =
  /** `keys`: `namespace/name` of every Kustomization and HelmRelease the run will reconcile. */
  | { type: "planned"; kustomizations: number; keys?: { kustomizations: string[]; helmReleases: string[] } }
  /** `kustomization` is the object's `namespace/name`; `kind` says whether it is a Kustomization or a HelmRelease. */
  | { type: "started"; kustomization: string; kind?: "Kustomization" | "HelmRelease" }
  | { type: "applied"; kustomization: string; summary: string }
  | { type: "waiting"; kustomization: string; objects: number }
  | { type: "finished"; kustomization: string; status: KustomizationResult["status"] };

export interface ReconcileOptions extends PlanOptions {
  repoDir: string;
  dryRun: boolean;
  /** Produce YAML diffs for changed objects (dry runs). */
  withDiff: boolean;
  /** Which repository and cluster path this run stands for; inventories from another scope are not touched. */
  scope: string;
  /** Kustomizations reconciled at once. */
  concurrency: number;
  /** API requests in flight at once, per Kustomization. */
  applyConcurrency: number;
  /** Skip health checks even where the Kustomization asks for them (e.g. a quick CLI run). */
  skipHealth: boolean;
  onProgress?: (event: ProgressEvent) => void;
  /** The run's event stream (see events.ts): reporters subscribe here. A sink that throws is ignored. */
  onEvent?: RunEventSink;
  /** Revision, commit, cluster and repository, put on every event of the run. */
  eventMetadata?: EventMetadata;
  /**
   * The tree comes from someone who may not read the cluster's Secrets (a pull request from a fork): no Secret
   * is read — not for substitution, source credentials or Helm values — so none can be sent elsewhere or shown.
   */
  untrusted?: boolean;
  /** The longest one source fetch may take, whatever its spec.timeout says (operator `security.maxSourceTimeout`). */
  maxSourceTimeoutMs?: number;
  /** Which hosts sources may reach (operator `security.outbound`). */
  outbound?: OutboundPolicy;
  /** Bounds on every helm command (operator `security.maxBuildTime`). */
  helmLimits?: Partial<HelmLimits>;
  log?: Logger;
  /** The cluster's KubeConfig, for the helm binary; default: the one `api` was made from. */
  kubeConfig?: KubeConfig;
  /**
   * What started this run: a push (or its redelivery), the schedule (spec.interval, a source's new revision) or a
   * `/gitops` command. Default `push`.
   */
  trigger?: ReconcileTrigger;
  /**
   * Whether the Git revision differs from the one the previous run of this repository × cluster applied
   * (scheduled runs know; a push always counts as changed). Undefined: not known.
   */
  gitChanged?: boolean;
}

export type ReconcileTrigger = "push" | "schedule" | "command";

export function defaultReconcileOptions(repoDir: string, clusterPath: string): ReconcileOptions {
  return {
    ...defaultPlanOptions(clusterPath),
    repoDir,
    dryRun: false,
    withDiff: false,
    scope: clusterPath.replace(/^\.\//, "").replace(/\/$/, ""),
    concurrency: 4,
    applyConcurrency: defaultApplyOptions().concurrency,
    skipHealth: false,
  };
}

/** Renders the tree without a cluster (`gitops-bot build`): the plan, with substitute values (not substituteFrom). */
export async function buildTree(
  opts: Pick<ReconcileOptions, "repoDir" | keyof PlanOptions>,
): Promise<TreePlan> {
  const work = prepareWorkTree(opts.repoDir);
  try {
    return await planTree(work, opts);
  } finally {
    work.cleanup();
  }
}

/**
 * The API client a Kustomization's or HelmRelease's cluster operations use: the bot's own, or (its
 * serviceAccountName, else the policy's default) the ServiceAccount's, impersonated, so that RBAC decides.
 */
function clientFor(
  api: RawObjectApi,
  opts: Pick<ReconcileOptions, "tenancy">,
  obj: { namespace: string; spec: { serviceAccountName?: string } },
): { api: RawObjectApi; user?: string } {
  const user = impersonatedUser(opts.tenancy, obj.namespace, obj.spec.serviceAccountName);
  return user ? { api: api.impersonating(user), user } : { api };
}

/** One HelmRunner (one helm session, one kubeconfig) per identity a run acts as. */
class HelmRunners {
  private readonly runners = new Map<string, HelmRunner>();

  constructor(
    private readonly api: RawObjectApi,
    private readonly resolver: SourceResolver,
    private readonly options: ReconcileOptions,
  ) {}

  base(): HelmRunner {
    return this.runner("", this.api, this.options.kubeConfig);
  }

  for(hr: FluxHelmRelease): HelmRunner {
    const { api, user } = clientFor(this.api, this.options, hr);
    if (!user) return this.base();
    // The helm binary impersonates through its kubeconfig (`as:`), as the object API does.
    const kc = this.options.kubeConfig ?? kubeConfigOf(this.api);
    return this.runner(user, api, kc && impersonatedKubeConfig(kc, user));
  }

  private runner(user: string, api: RawObjectApi, kubeConfig: ReconcileOptions["kubeConfig"]): HelmRunner {
    let runner = this.runners.get(user);
    if (!runner) {
      runner = new HelmRunner(api, this.resolver, {
        dryRun: this.options.dryRun,
        withDiff: this.options.withDiff,
        scope: this.options.scope,
        skipHealth: this.options.skipHealth,
        kubeConfig,
        untrusted: this.options.untrusted,
        ...(this.options.helmLimits ? { limits: this.options.helmLimits } : {}),
      });
      this.runners.set(user, runner);
    }
    return runner;
  }

  cleanup(): void {
    for (const r of this.runners.values()) r.cleanup();
  }
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
    : given;
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
  const helm = new HelmRunners(api, resolver, options);
  try {
    let plan: TreePlan;
    try {
      plan = await planTree(
        work,
        { ...options, admitFluxObjects: (ks, objects) => admitFluxObjects(api, ks, objects, options) },
        resolver,
      );
    } catch (err) {
      result.errors.push((err as Error).message);
      return result;
    }
    for (const note of plan.notes) options.log?.info({ clusterPath: options.clusterPath }, note);
    options.onProgress?.({
      type: "planned",
      kustomizations: plan.kustomizations.length,
      keys: {
        kustomizations: plan.kustomizations.map((p) => kustomizationKey(p.ks)),
        helmReleases: plan.helmReleases.map((p) => `${p.hr.namespace}/${p.hr.name}`),
      },
    });
    const done = await reconcileInOrder(api, plan, options, result, helm);
    result.kustomizations = done.kustomizations;
    const helmReleases = done.helmReleases;
    if (result.errors.length === 0) {
      try {
        const removed = await pruneRemovedKustomizations(api, plan, options);
        for (const r of removed) emitFinished(options, { kind: "Kustomization", result: r });
        result.kustomizations.push(...removed);
      } catch (err) {
        result.errors.push(`pruning Kustomizations removed from Git: ${(err as Error).message}`);
      }
      try {
        const removed = await helm.base().pruneRemoved(plan.helmReleases);
        for (const r of removed) emitFinished(options, { kind: "HelmRelease", result: r });
        helmReleases.push(...removed);
      } catch (err) {
        // Listing Helm releases needs to read Secrets cluster-wide; without HelmReleases that is not our business.
        if (plan.helmReleases.length > 0)
          result.errors.push(`listing Helm releases: ${(err as Error).message}`);
        else options.log?.debug({ err }, "could not list Helm releases to prune");
      }
    }
    if (helmReleases.length > 0) result.helmReleases = helmReleases;
    const sources = resolver.results();
    if (sources.length > 0) result.sources = sources;
    return result;
  } finally {
    helm.cleanup();
    work.cleanup();
    result.durationMs = Date.now() - started;
  }
}

function depKeys(p: PlannedKustomization): string[] {
  return (p.ks.spec.dependsOn ?? []).map((d) => `${d.namespace ?? p.ks.namespace}/${d.name}`);
}

type Node =
  | { kind: "Kustomization"; key: string; p: PlannedKustomization }
  | { kind: "HelmRelease"; key: string; p: PlannedHelmRelease };
type NodeResult = KustomizationResult | HelmReleaseResult;

function hrDepKeys(p: PlannedHelmRelease): string[] {
  return (p.hr.spec.dependsOn ?? []).map((d) =>
    helmReleaseKey({ name: d.name, namespace: d.namespace ?? p.hr.namespace }),
  );
}

/**
 * Kustomizations and HelmReleases in dependency order, independent ones in parallel. A HelmRelease comes after
 * the Kustomization whose build contained it; a Kustomization with `wait: true` is ready for its dependents
 * only when the HelmReleases it contains are (as Flux's health check of the HelmRelease objects would say).
 */
async function reconcileInOrder(
  api: RawObjectApi,
  plan: TreePlan,
  opts: ReconcileOptions,
  run: RunResult,
  helm: HelmRunners,
): Promise<{ kustomizations: KustomizationResult[]; helmReleases: HelmReleaseResult[] }> {
  const nodes = new Map<string, Node>();
  for (const p of plan.kustomizations)
    nodes.set(kustomizationKey(p.ks), { kind: "Kustomization", key: kustomizationKey(p.ks), p });
  for (const p of plan.helmReleases)
    nodes.set(helmReleaseKey(p.hr), { kind: "HelmRelease", key: helmReleaseKey(p.hr), p });
  const children = new Map<string, string[]>();
  for (const p of plan.helmReleases) {
    if (p.parent) children.set(p.parent, [...(children.get(p.parent) ?? []), helmReleaseKey(p.hr)]);
  }
  const declaredDeps = (n: Node) => (n.kind === "Kustomization" ? depKeys(n.p) : hrDepKeys(n.p));
  const waitsForChildren = (key: string) => {
    const n = nodes.get(key);
    return n?.kind === "Kustomization" && n.p.ks.spec.wait === true;
  };
  /** Every node `n` waits for: its dependencies (with their HelmReleases when they wait) and its parent. */
  const edges = (n: Node): string[] => {
    const deps = declaredDeps(n).filter((d) => nodes.has(d));
    const out = [...deps, ...deps.filter(waitsForChildren).flatMap((d) => children.get(d) ?? [])];
    if (n.kind === "HelmRelease" && n.p.parent && nodes.has(n.p.parent)) out.push(n.p.parent);
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
    return { kustomizations: [], helmReleases: [] };
  }

  // Each node starts when all it waits for has finished; a slot limit bounds parallelism.
  const { acquire, release } = semaphore(opts.concurrency);
  const running = new Map<string, Promise<NodeResult>>();
  const reconcileKey = (key: string): Promise<NodeResult> => {
    const existing = running.get(key);
    if (existing) return existing;
    const n = nodes.get(key) as Node;
    const reconciled = (async (): Promise<NodeResult> => {
      const waited = await Promise.all(
        edges(n).map(async (d) => ({ key: d, result: await reconcileKey(d) })),
      );
      const parent = n.kind === "HelmRelease" ? n.p.parent : undefined;
      if (n.kind === "HelmRelease" && n.p.refused) return failedHelmRelease(n.p, n.p.refused);
      if (n.kind === "Kustomization" && n.p.refused) return failedResult(n.p, n.p.refused);
      const notReady = waited.filter(
        (w) => w.result.status !== "Ready" && !(w.key === parent && w.result.status === "Suspended"),
      );
      const subject = (w: { key: string; result: NodeResult }) =>
        w.key.startsWith("HelmRelease/") ? w.key : `${w.result.namespace}/${w.result.name}`;
      if (n.kind === "Kustomization") {
        if (missing.has(key)) return failedResult(n.p, missing.get(key) as string);
        if (notReady.length > 0) {
          return {
            ...emptyResult(n.p),
            status: "DependencyNotReady" as const,
            message: `dependency ${notReady.map(subject).join(", ")} is not ready`,
          };
        }
      } else {
        const missingDep = missing.get(key);
        if (missingDep) return failedHelmRelease(n.p, missingDep);
        if (notReady.length > 0) {
          const message = `dependency ${notReady.map(subject).join(", ")} is not ready`;
          return { ...failedHelmRelease(n.p, message), status: "DependencyNotReady", errors: [] };
        }
      }
      await acquire();
      try {
        opts.onProgress?.({ type: "started", kustomization: key, kind: n.kind });
        if (opts.onEvent) {
          const object = nodeObject(n);
          opts.onEvent({
            type: "object-started",
            subject: `${object.kind}/${object.namespace}/${object.name}`,
            event: startedEvent(object, opts.eventMetadata),
          });
        }
        const r = await reconcileNode(api, n, opts, helm);
        opts.onProgress?.({ type: "finished", kustomization: key, status: r.status });
        return r;
      } finally {
        release();
      }
    })();
    const promise = reconciled.then((r) => {
      emitFinished(
        opts,
        n.kind === "Kustomization"
          ? { kind: "Kustomization", result: r as KustomizationResult }
          : { kind: "HelmRelease", result: r as HelmReleaseResult },
      );
      return r;
    });
    running.set(key, promise);
    return promise;
  };
  const results = new Map<string, NodeResult>();
  await Promise.all([...nodes.keys()].map(async (key) => results.set(key, await reconcileKey(key))));
  return {
    kustomizations: plan.kustomizations.map(
      (p) => results.get(kustomizationKey(p.ks)) as KustomizationResult,
    ),
    helmReleases: plan.helmReleases.map((p) => results.get(helmReleaseKey(p.hr)) as HelmReleaseResult),
  };
}

function nodeObject(n: Node): { kind: Node["kind"]; namespace: string; name: string } {
  const o = n.kind === "Kustomization" ? n.p.ks : n.p.hr;
  return { kind: n.kind, namespace: o.namespace, name: o.name };
}

/** The dependency graph by subject (`Kind/namespace/name`), for reporters that draw it. */
function runGraph(nodes: Map<string, Node>, edges: (n: Node) => string[]): RunGraph {
  const subjectOfKey = (key: string) => {
    const n = nodes.get(key) as Node;
    const o = nodeObject(n);
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
async function reconcileNode(
  api: RawObjectApi,
  n: Node,
  opts: ReconcileOptions,
  helm: HelmRunners,
): Promise<NodeResult> {
  const started = Date.now();
  try {
    if (n.kind === "Kustomization") return await reconcileOne(api, n.p, opts);
    const unbounded = unboundedTenantHelmRelease(opts, n.p);
    if (unbounded) return { ...failedHelmRelease(n.p, unbounded), durationMs: Date.now() - started };
    const outcome = await helm.for(n.p.hr).reconcile(n.p);
    if (opts.untrusted) maskLiveValues(outcome.changes);
    return outcome;
  } catch (err) {
    const message = `${n.kind}/${n.kind === "Kustomization" ? kustomizationKey(n.p.ks) : `${n.p.hr.namespace}/${n.p.hr.name}`}: ${(err as Error).message}`;
    opts.log?.warn({ err, object: n.key }, "reconcile of one object failed");
    const failed = n.kind === "Kustomization" ? failedResult(n.p, message) : failedHelmRelease(n.p, message);
    return { ...failed, durationMs: Date.now() - started };
  }
}

/**
 * helm applies whatever a chart renders, so for a tenant (a grant that limits namespaces or cluster-scoped
 * kinds) only the RBAC of an impersonated ServiceAccount can bound a HelmRelease. Without one it is refused.
 */
function unboundedTenantHelmRelease(opts: ReconcileOptions, p: PlannedHelmRelease): string | undefined {
  const policy = opts.tenancy;
  if (!policy || (!policy.namespaces && policy.clusterScoped)) return undefined;
  if (impersonatedUser(policy, p.hr.namespace, p.hr.spec.serviceAccountName)) return undefined;
  return `HelmRelease/${p.hr.namespace}/${p.hr.name}: spec.serviceAccountName: a HelmRelease of ${policy.tenant} needs a ServiceAccount (spec.serviceAccountName, or serviceAccountName in the operator's grant): helm applies what the chart renders, and only that account's RBAC can keep it within the tenant's namespaces`;
}

/**
 * An untrusted run (a fork's pull request) reads no Secret, so it cannot know which live values came from one (a
 * trusted run's substituteFrom or Helm valuesFrom); it sees the keys of live-only lines, never their values.
 */
function maskLiveValues(entries: { diff?: string }[]): void {
  for (const entry of entries) if (entry.diff) entry.diff = maskRemovedValues(entry.diff);
}

function failedHelmRelease(p: PlannedHelmRelease, message: string): HelmReleaseResult {
  return {
    name: p.hr.name,
    namespace: p.hr.namespace,
    file: p.hr.file,
    releaseName: p.hr.releaseName,
    releaseNamespace: p.hr.releaseNamespace,
    status: "Failed",
    action: "none",
    message,
    changes: [],
    errors: [message],
    durationMs: 0,
  };
}

function emptyResult(p: PlannedKustomization): KustomizationResult {
  return {
    name: p.ks.name,
    namespace: p.ks.namespace,
    path: p.ks.spec.path ?? "./",
    file: p.ks.file,
    status: "Ready",
    message: "",
    changes: [],
    errors: [],
    unhealthy: [],
    notApplied: [],
    durationMs: 0,
    ...(p.source ? { source: p.source } : {}),
  };
}

function failedResult(
  p: PlannedKustomization,
  message: string,
  extra: Partial<KustomizationResult> = {},
): KustomizationResult {
  return {
    ...emptyResult(p),
    status: "Failed",
    message,
    errors: [message],
    notApplied: p.objects.map((o) => subjectOf(o)),
    ...extra,
  };
}

async function reconcileOne(
  api: RawObjectApi,
  p: PlannedKustomization,
  opts: ReconcileOptions,
): Promise<KustomizationResult> {
  const started = Date.now();
  const key = kustomizationKey(p.ks);
  const owner = { name: p.ks.name, namespace: p.ks.namespace };
  const done = (r: KustomizationResult) => ({ ...r, durationMs: Date.now() - started });
  if (p.ks.spec.suspend)
    return done({ ...emptyResult(p), status: "Suspended", message: "spec.suspend is true" });
  if (p.buildError) return done(failedResult(p, p.buildError));

  // Apply, dry-run, prune and health reads act as the Kustomization's ServiceAccount when it has one; the
  // inventory is the bot's own record (like Flux's status) and is kept with the bot's identity.
  let client: ReturnType<typeof clientFor>;
  let objects: KubernetesObject[];
  let secrets: string[];
  try {
    client = clientFor(api, opts, p.ks);
    ({ objects, secretValues: secrets } = await prepareObjects(api, client.api, p, opts));
  } catch (err) {
    return done(failedResult(p, `Kustomization/${key}: ${(err as Error).message}`));
  }
  const as = client.api;

  const previous = await readInventory(api, owner);
  if (previous && previous.scope !== opts.scope) {
    return done(
      failedResult(
        p,
        `Kustomization/${key} is already managed from ${previous.scope}; refusing to take it over from ${opts.scope}`,
      ),
    );
  }
  const applied = await applyAllStaged(as, objects, {
    dryRun: opts.dryRun,
    force: p.ks.spec.force ?? false,
    withDiff: opts.withDiff,
    concurrency: opts.applyConcurrency,
    previous: inventoryFingerprints(previous),
    owner: {
      labels: { [OWNER_NAME_LABEL]: owner.name, [OWNER_NAMESPACE_LABEL]: owner.namespace },
      managed: new Set((previous?.entries ?? []).map((e) => e.id)),
    },
  });
  const changeSet = applied.changeSet;
  if (secrets.length > 0) {
    // Values substituted from Secrets must not surface in diffs or errors, whatever object they landed in.
    for (const entry of changeSet.entries) if (entry.diff) entry.diff = scrubSecrets(entry.diff, secrets);
  }
  if (opts.untrusted) maskLiveValues(changeSet.entries);
  // API errors may echo what was sent: the values of Secrets this Kustomization renders too (diffs mask
  // those structurally already).
  const errorSecrets = [...secrets, ...secretValuesOf(objects)];
  if (errorSecrets.length > 0) {
    for (const e of applied.errors) e.message = scrubCredentials(scrubSecrets(e.message, errorSecrets));
  }
  opts.onProgress?.({ type: "applied", kustomization: key, summary: changeSet.summary() });
  const current = inventoryEntries(objects, applied.fingerprints);
  if (applied.errors.length > 0) {
    if (!opts.dryRun) {
      // Keep everything we ever applied in the inventory, so a later successful run can still prune it.
      const appliedIds = new Set(changeSet.entries.map((e) => e.id));
      const kept = [...(previous?.entries ?? []), ...current.filter((e) => appliedIds.has(e.id))];
      const unique = [...new Map(kept.map((e) => [e.id, e])).values()];
      await writeInventory(api, inventoryOf(p, opts, unique, client.user));
    }
    const appliedIds = new Set(changeSet.entries.map((e) => e.id));
    return done(
      failedResult(p, applied.errors[0]?.message ?? "apply failed", {
        changes: changeSet.entries,
        errors: applied.errors.map((e) => e.message),
        notApplied: opts.dryRun
          ? []
          : objects.filter((o) => !appliedIds.has(objectId(o))).map((o) => subjectOf(o)),
      }),
    );
  }

  if (!opts.dryRun) await writeInventory(api, inventoryOf(p, opts, current, client.user));
  const errors: string[] = [];
  if (p.ks.spec.prune && previous) {
    const pruned = await deleteStaleObjects(as, staleEntries(previous.entries, current), {
      dryRun: opts.dryRun,
      concurrency: opts.applyConcurrency,
      owner,
    });
    changeSet.append(pruned.changeSet);
    errors.push(...pruned.errors.map((e) => e.message));
  }

  let healthMs: number | undefined;
  let unhealthy: KustomizationResult["unhealthy"] = [];
  const checks = healthCheckTargets(p, objects);
  if (!opts.dryRun && !opts.skipHealth && checks.length > 0 && errors.length === 0) {
    opts.onProgress?.({ type: "waiting", kustomization: key, objects: checks.length });
    const health = await waitForHealthy(as, checks, {
      timeoutMs: p.ks.timeoutMs,
      concurrency: opts.applyConcurrency,
    });
    healthMs = health.elapsedMs;
    unhealthy = health.unhealthy;
    if (!health.healthy) {
      errors.push(
        ...unhealthy.map(
          (u) => `${u.subject} is ${u.status === "Failed" ? "failed" : "not ready"}: ${u.message}`,
        ),
      );
    }
  }
  return done({
    ...emptyResult(p),
    status: errors.length > 0 ? "Failed" : "Ready",
    message:
      errors.length > 0
        ? unhealthy.length > 0
          ? `health check failed: ${errors[0]}`
          : (errors[0] ?? "")
        : changeSet.summary(),
    changes: changeSet.entries,
    errors,
    unhealthy,
    healthMs,
  });
}

function inventoryOf(
  p: PlannedKustomization,
  opts: ReconcileOptions,
  entries: Inventory["entries"],
  user: string | undefined,
): Inventory {
  return {
    owner: { name: p.ks.name, namespace: p.ks.namespace },
    scope: opts.scope,
    prune: p.ks.spec.prune,
    ...(user ? { user } : {}),
    entries,
  };
}

/** Post-build substitution, default namespaces and ownership labels: the objects exactly as they will be applied. */
async function prepareObjects(
  api: RawObjectApi,
  as: RawObjectApi,
  p: PlannedKustomization,
  opts: ReconcileOptions,
): Promise<{ objects: KubernetesObject[]; secretValues: string[] }> {
  const postBuild = p.ks.spec.postBuild
    ? await postBuildVars(as, p.ks, { readSecrets: !opts.untrusted, tenancy: opts.tenancy })
    : undefined;
  const vars = postBuild?.vars;
  const crdScopes = new Map<string, string>();
  for (const o of p.objects as (KubernetesObject & {
    spec?: { group?: string; names?: { kind?: string }; scope?: string };
  })[]) {
    if (o.kind === "CustomResourceDefinition")
      crdScopes.set(`${o.spec?.group}/${o.spec?.names?.kind}`, o.spec?.scope ?? "Namespaced");
  }
  const seen = new Set<string>();
  const out: KubernetesObject[] = [];
  const refused: string[] = [];
  for (const original of p.objects) {
    let obj: KubernetesObject;
    try {
      obj = vars ? substituteObject(original, vars) : structuredClone(original);
    } catch (err) {
      const why =
        err instanceof SubstitutionError
          ? err.message
          : `the result is not valid YAML: ${(err as Error).message}`;
      throw new Error(`post-build substitution of ${subjectOf(original)} failed: ${why}`);
    }
    obj.metadata = { ...obj.metadata };
    const scope = await namespaced(api, obj, crdScopes);
    if (scope === true && !obj.metadata.namespace) {
      obj.metadata.namespace = p.ks.spec.targetNamespace ?? "default";
    } else if (scope === false && obj.metadata.namespace) {
      // kustomize's `namespace:` (targetNamespace) also stamps kinds it does not know are cluster-scoped.
      delete obj.metadata.namespace;
    }
    const violations: Violation[] = objectViolations(opts.tenancy, obj, scope);
    if (violations.length > 0) refused.push(describeViolations(subjectOf(obj), violations));
    obj.metadata.labels = {
      ...obj.metadata.labels,
      [OWNER_NAME_LABEL]: p.ks.name,
      [OWNER_NAMESPACE_LABEL]: p.ks.namespace,
    };
    const id = objectId(obj);
    if (seen.has(id)) throw new Error(`${subjectOf(obj)} is rendered twice`);
    seen.add(id);
    out.push(obj);
  }
  if (refused.length > 0) {
    // Nothing of this Kustomization is applied when one object is out of bounds.
    const more = refused.length > 3 ? `; and ${refused.length - 3} more` : "";
    throw new Error(`${refused.slice(0, 3).join("; ")}${more} (built from ${p.ks.spec.path ?? "./"})`);
  }
  if (opts.log)
    opts.log.debug({ kustomization: kustomizationKey(p.ks), objects: out.length }, "prepared objects");
  return { objects: out, secretValues: postBuild?.secretValues ?? [] };
}

async function namespaced(
  api: RawObjectApi,
  obj: KubernetesObject,
  crdScopes: Map<string, string>,
): Promise<boolean | undefined> {
  const group = obj.apiVersion?.includes("/") ? obj.apiVersion.split("/")[0] : "";
  const fromCrd = crdScopes.get(`${group}/${obj.kind}`);
  if (fromCrd) return fromCrd === "Namespaced";
  // undefined: a kind the API server does not serve; its apply fails with the server's own message.
  return api.isNamespaced(obj.apiVersion ?? "", obj.kind ?? "");
}

function healthCheckTargets(p: PlannedKustomization, objects: KubernetesObject[]): KubernetesObject[] {
  if (p.ks.spec.wait) return objects;
  return (p.ks.spec.healthChecks ?? []).map((h) => ({
    apiVersion: h.apiVersion ?? "v1",
    kind: h.kind,
    metadata: { name: h.name, namespace: h.namespace },
  }));
}

/** Kustomizations of this scope that the cluster knows (by inventory) but Git no longer has. */
async function pruneRemovedKustomizations(
  api: RawObjectApi,
  plan: TreePlan,
  opts: ReconcileOptions,
): Promise<KustomizationResult[]> {
  const present = new Set(plan.kustomizations.map((p) => kustomizationKey(p.ks)));
  const inventories = await listInventories(api, opts.scope);
  const removed = inventories.filter((inv) => !present.has(kustomizationKey(inv.owner)));
  return mapLimit(removed, opts.concurrency, async (inv) => {
    const started = Date.now();
    const changeSet = new ChangeSet();
    const errors: string[] = [];
    // The policy may have narrowed since these objects were applied: nothing outside it is deleted.
    const outside = inv.entries.filter((e) => {
      const namespace = parseObjectId(e.id).namespace;
      return namespace
        ? namespaceRefusal(opts.tenancy, namespace) !== undefined
        : opts.tenancy !== undefined && !opts.tenancy.clusterScoped;
    });
    if (inv.prune && outside.length > 0) {
      errors.push(
        `Kustomization/${kustomizationKey(inv.owner)}: not pruned: ${outside.length} of its objects (${outside
          .slice(0, 3)
          .map((e) => subjectOf(parseObjectId(e.id)))
          .join(", ")}) are outside what ${opts.tenancy?.tenant} may change`,
      );
    } else if (inv.prune) {
      // As the identity that applied them. The inventory is a ConfigMap its namespace may write: only a
      // ServiceAccount of that namespace is believed, and never less than the policy's default.
      const recorded = inv.user?.startsWith(`system:serviceaccount:${inv.owner.namespace}:`)
        ? inv.user.split(":").at(-1)
        : undefined;
      const user = impersonatedUser(opts.tenancy, inv.owner.namespace, recorded);
      const as = user ? api.impersonating(user) : api;
      const pruned = await deleteStaleObjects(as, inv.entries, {
        dryRun: opts.dryRun,
        concurrency: opts.applyConcurrency,
        owner: inv.owner,
      });
      changeSet.append(pruned.changeSet);
      errors.push(...pruned.errors.map((e) => e.message));
    }
    if (!opts.dryRun && errors.length === 0) await deleteInventory(api, inv.owner);
    return {
      name: inv.owner.name,
      namespace: inv.owner.namespace,
      path: "",
      file: "",
      status: errors.length > 0 ? "Failed" : "Ready",
      message: `removed from Git: ${inv.prune ? changeSet.summary() : "prune is disabled, objects kept"}`,
      changes: changeSet.entries,
      errors,
      unhealthy: [],
      notApplied: [],
      durationMs: Date.now() - started,
    } satisfies KustomizationResult;
  });
}
