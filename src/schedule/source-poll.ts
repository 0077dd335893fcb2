// Sources polled on their own spec.interval, as source-controller polls them: after a run, every GitRepository
// (of another repository), OCIRepository and HelmRepository the run's tree declares and something in it uses
// becomes one poll — what checking its revision needs (the parsed object, the GitRepositories it includes, the
// chart specs of the HelmReleases that use it), as plain JSON so that a timer can carry it to any replica — and
// a poll's check fetches only that source (a cached artifact or chart when nothing changed): no build, no apply.
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { parseDuration } from "../flux/duration.js";
import type { FluxHelmRelease } from "../flux/helm-release.js";
import { isYamlFile, type ManifestLimits, readManifestFile } from "../flux/manifests.js";
import { type FluxSource, isSource, parseSource, sourceKey } from "../flux/sources.js";
import type { TreePlan } from "../reconcile/plan.js";
import type { SecretReader } from "../source/credentials.js";
import { listFiles, repoRelative, resolveInRepo } from "../source/repo-path.js";
import { SourceResolver } from "../source/resolver.js";
import type { OutboundPolicy } from "../util/outbound/index.js";

/** The kinds with a revision of their own to poll (an ArtifactGenerator's follow from the sources it reads). */
const POLLED_KINDS = new Set(["GitRepository", "OCIRepository", "HelmRepository"]);

export interface SourcePoll {
  /** `Kind/namespace/name` of the source. */
  subject: string;
  /** The source's spec.interval (the Timers hold it to the operator's floor). */
  everyMs: number;
  source: FluxSource;
  /** GitRepositories the source's spec.include names: their commits are part of its tree. */
  includes: FluxSource[];
  /** The HelmReleases whose chart comes from the source, without their values (a chart is all a check needs). */
  charts: FluxHelmRelease[];
  /** What uses the source (`Kind/namespace/name`): reconciled when its revision changes. */
  dependents: string[];
  /** The revision the last run (or check) saw; a check that finds another one reconciles the dependents. */
  revision?: string;
}

/** The sources of a planned tree worth a timer of their own; see the file comment. */
export function sourcesToPoll(
  plan: TreePlan,
  tree: { dir: string; selfSourceNames: string[]; limits: ManifestLimits },
): SourcePoll[] {
  const dependents = new Map<string, string[]>();
  const charts = new Map<string, FluxHelmRelease[]>();
  const use = (
    ref: { kind: string; name: string; namespace?: string },
    namespace: string,
    subject: string,
  ) => {
    // The repository being reconciled is polled through its branch head (a conditional request), not here.
    if (ref.kind === "GitRepository" && tree.selfSourceNames.includes(ref.name)) return undefined;
    if (!POLLED_KINDS.has(ref.kind)) return undefined;
    const key = `${ref.kind}/${ref.namespace ?? namespace}/${ref.name}`;
    dependents.set(key, [...(dependents.get(key) ?? []), subject]);
    return key;
  };
  for (const p of plan.kustomizations)
    use(p.ks.spec.sourceRef, p.ks.namespace, `Kustomization/${p.ks.namespace}/${p.ks.name}`);
  for (const { hr } of plan.helmReleases) {
    const ref = hr.spec.chartRef ?? hr.spec.chart?.spec.sourceRef;
    const key = ref && use(ref, hr.namespace, `HelmRelease/${hr.namespace}/${hr.name}`);
    if (key) charts.set(key, [...(charts.get(key) ?? []), chartOnly(hr)]);
  }
  // Most trees use only themselves: then nothing is read (this runs after every run, no-ops included).
  if (dependents.size === 0) return [];
  const declared = declaredSources(plan, tree, new Set(dependents.keys()));
  const polls: SourcePoll[] = [];
  for (const source of declared.values()) {
    const key = sourceKey(source);
    const users = dependents.get(key);
    if (!users) continue;
    const interval = (source.spec as { interval?: string }).interval;
    if (!interval) continue;
    polls.push({
      subject: key,
      everyMs: parseDuration(interval),
      source,
      includes: includedSources(source, declared),
      charts: charts.get(key) ?? [],
      dependents: [...new Set(users)].sort(),
    });
  }
  return polls.sort((a, b) => a.subject.localeCompare(b.subject));
}

/**
 * The sources the tree declares: those the planner reports (when it does), those directly in the cluster path,
 * and those the Kustomizations' builds declared. A cluster path built by kustomize (a kustomization.yaml at its
 * top) is not built again here: its sources are polled at their dependents' interval unless the plan lists them.
 */
function declaredSources(
  plan: TreePlan,
  tree: { dir: string; limits: ManifestLimits },
  wanted: Set<string>,
): Map<string, FluxSource> {
  const found = new Map<string, FluxSource>();
  for (const source of plan.sources ?? []) found.set(sourceKey(source), source);
  const add = (raw: { object: KubernetesObject; file: string }[]) => {
    for (const { object, file } of raw) {
      if (!isSource(object)) continue;
      try {
        const source = parseSource(object, file);
        if (!found.has(sourceKey(source))) found.set(sourceKey(source), source);
      } catch {
        // The run reported it; a source it could not read has nothing to poll.
      }
    }
  };
  add(
    plan.kustomizations.flatMap((p) => (p.fluxObjects ?? []).map((object) => ({ object, file: p.ks.file }))),
  );
  // The cluster path's files are read only for a used source not found yet (or an included one it names).
  if ([...wanted].some((key) => !found.has(key)) || [...found.values()].some(hasIncludes))
    add(clusterPathObjects(plan.clusterPath, tree));
  return found;
}

function hasIncludes(source: FluxSource): boolean {
  return ((source.spec as { include?: unknown[] }).include ?? []).length > 0;
}

const kustomizeConfigFiles = new Set(["kustomization.yaml", "kustomization.yml", "Kustomization"]);

function clusterPathObjects(
  clusterPath: string,
  tree: { dir: string; limits: ManifestLimits },
): { object: KubernetesObject; file: string }[] {
  try {
    const dir = resolveInRepo(tree.dir, clusterPath, { field: "cluster path" });
    if (!existsSync(dir) || [...kustomizeConfigFiles].some((f) => existsSync(join(dir, f)))) return [];
    return listFiles(dir)
      .filter((f) => isYamlFile(f) && !kustomizeConfigFiles.has(basename(f)))
      .flatMap((f) => readManifestFile(f, repoRelative(tree.dir, f), tree.limits));
  } catch {
    return [];
  }
}

function includedSources(source: FluxSource, declared: Map<string, FluxSource>): FluxSource[] {
  const out = new Map<string, FluxSource>();
  const visit = (s: FluxSource) => {
    const includes = (s.spec as { include?: { repository: { name: string } }[] }).include ?? [];
    for (const inc of includes) {
      const other = declared.get(`GitRepository/${s.namespace}/${inc.repository.name}`);
      if (!other || out.has(sourceKey(other)) || sourceKey(other) === sourceKey(source)) continue;
      out.set(sourceKey(other), other);
      visit(other);
    }
  };
  visit(source);
  return [...out.values()];
}

/** What resolving a HelmRelease's chart reads, and nothing a Secret could have been substituted into. */
function chartOnly(hr: FluxHelmRelease): FluxHelmRelease {
  const {
    values: _values,
    valuesFrom: _valuesFrom,
    postRenderers: _post,
    ...spec
  } = hr.spec as Record<string, unknown>;
  return {
    name: hr.name,
    namespace: hr.namespace,
    file: hr.file,
    releaseName: hr.releaseName,
    releaseNamespace: hr.releaseNamespace,
    timeoutMs: hr.timeoutMs,
    spec: spec as FluxHelmRelease["spec"],
  };
}

export interface SourceCheckOptions {
  cacheDir: string;
  /** The cluster's Secrets as the run's tenancy policy lets the repository read them. */
  secrets: SecretReader;
  maxTimeoutMs?: number;
  outbound?: OutboundPolicy;
}

/** The revision the poll's source serves now. Throws (a SourceError naming the source) when it cannot be read. */
export async function sourceRevisionNow(poll: SourcePoll, options: SourceCheckOptions): Promise<string> {
  const resolver = new SourceResolver({
    selfSourceNames: [],
    // A poll never reads the repository being reconciled (its sources are other repositories and registries).
    selfDir: options.cacheDir,
    cacheDir: options.cacheDir,
    secrets: options.secrets,
    ...(options.maxTimeoutMs !== undefined ? { maxTimeoutMs: options.maxTimeoutMs } : {}),
    ...(options.outbound ? { outbound: options.outbound } : {}),
  });
  for (const source of [poll.source, ...poll.includes]) resolver.declare(source);
  return resolver.revisionOf(poll.source, poll.charts);
}
