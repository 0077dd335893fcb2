// `--output json` of build, diff and reconcile: one documented shape (docs/cli.md), versioned by schemaVersion.
// Fields are only ever added within a schemaVersion; a rename or removal raises it.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { TreePlan } from "../reconcile/plan.js";
import {
  type HelmReleaseResult,
  type KustomizationResult,
  type RunResult,
  runHasChanges,
  runSucceeded,
  type SourceResult,
} from "../reconcile/result.js";
import type { RenderedRelease } from "./render-helm.js";

export const SCHEMA_VERSION = 1;

export interface KustomizationJson extends Omit<KustomizationResult, "status"> {
  /** A run's status, or for `build`: "Rendered" / "Failed". */
  status: KustomizationResult["status"] | "Rendered";
  /** `build` only: the rendered objects, Secret values masked. */
  objects?: KubernetesObject[];
}

export interface HelmReleaseJson extends Omit<HelmReleaseResult, "status"> {
  /** A run's status, or for `build --render-helm`: "Rendered" / "Failed". */
  status: HelmReleaseResult["status"] | "Rendered";
  /** `build --render-helm` only: the objects `helm template` rendered (hooks last), Secret values masked. */
  objects?: KubernetesObject[];
}

export interface TreeResultJson {
  schemaVersion: typeof SCHEMA_VERSION;
  command: "build" | "diff" | "reconcile";
  clusterPath: string;
  dryRun: boolean;
  /** Every Kustomization and HelmRelease rendered (build), would apply (diff) or is Ready (reconcile). */
  succeeded: boolean;
  /** Something was or would be created, configured or deleted (always false for build). */
  changed: boolean;
  errors: string[];
  notes: string[];
  kustomizations: KustomizationJson[];
  helmReleases: HelmReleaseJson[];
  sources: SourceResult[];
  durationMs: number;
}

export function runJson(command: "diff" | "reconcile", run: RunResult): TreeResultJson {
  return {
    schemaVersion: SCHEMA_VERSION,
    command,
    clusterPath: run.clusterPath,
    dryRun: run.dryRun,
    succeeded: runSucceeded(run),
    changed: runHasChanges(run),
    errors: run.errors,
    notes: [],
    kustomizations: run.kustomizations,
    helmReleases: run.helmReleases ?? [],
    sources: run.sources ?? [],
    durationMs: run.durationMs,
  };
}

export function buildJson(
  plan: TreePlan,
  objectsOf: (objects: KubernetesObject[]) => KubernetesObject[],
  durationMs: number,
  releases?: Map<string, RenderedRelease>,
): TreeResultJson {
  const kustomizations: KustomizationJson[] = plan.kustomizations.map((p) => ({
    name: p.ks.name,
    namespace: p.ks.namespace,
    path: p.ks.spec.path ?? "./",
    file: p.ks.file,
    status: p.buildError ? "Failed" : "Rendered",
    message: p.buildError ?? `${p.objects.length} object(s)`,
    changes: [],
    errors: p.buildError ? [p.buildError] : [],
    unhealthy: [],
    notApplied: [],
    durationMs: 0,
    ...(p.source ? { source: p.source } : {}),
    objects: objectsOf(p.objects),
  }));
  const helmReleases = [...(releases?.values() ?? [])].map(releaseJson);
  return {
    schemaVersion: SCHEMA_VERSION,
    command: "build",
    clusterPath: plan.clusterPath,
    dryRun: true,
    succeeded: [...kustomizations, ...helmReleases].every((k) => k.status !== "Failed"),
    changed: false,
    errors: [],
    notes: plan.notes,
    kustomizations,
    helmReleases,
    sources: [],
    durationMs,
  };
}

/** One HelmRelease of `build --render-helm` in the shape of a run's HelmRelease results. */
function releaseJson(r: RenderedRelease): HelmReleaseJson {
  const [namespace = "", name = ""] = r.key.split("/");
  return {
    name: r.hr?.name ?? name,
    namespace: r.hr?.namespace ?? namespace,
    file: r.hr?.file ?? "",
    releaseName: r.hr?.releaseName ?? name,
    releaseNamespace: r.hr?.releaseNamespace ?? namespace,
    ...(r.chart ? { chart: r.chart.name, version: r.chart.version, source: r.chart.source } : {}),
    status: r.error ? "Failed" : "Rendered",
    action: "none",
    message: r.error ?? `${r.objects.length} object(s)`,
    changes: [],
    errors: r.error ? [r.error] : [],
    durationMs: 0,
    objects: r.objects,
  };
}

export function toJson(result: TreeResultJson): string {
  return `${JSON.stringify(result, null, 2)}\n`;
}
