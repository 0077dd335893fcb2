// `gitops-bot build --render-helm`: what each HelmRelease of the build renders, as `helm template` with its values
// would — with no cluster access at all. The chart is resolved by the engine's SourceResolver (HelmRepository
// index and download, OCI charts, GitRepository and ExternalArtifact charts; the outbound policy applies) and
// rendered by `templateChart` in a helm session that has no kubeconfig, so a template's `lookup` finds nothing.
// Values are the HelmRelease's inline `spec.values`: `valuesFrom` ConfigMaps and Secrets live in the cluster,
// which build does not read, so they are left out with one note per HelmRelease (optional ones silently).
import { join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { prepareWorkTree } from "../build/kustomize.js";
import { maskSecret } from "../cluster/ssa/mask-secrets.js";
import {
  type FluxHelmRelease,
  helmReleaseKey,
  isHelmRelease,
  parseHelmRelease,
} from "../flux/helm-release.js";
import { checkChartFiles } from "../helm/chart-files.js";
import { applyChartValuesFiles } from "../helm/chart-values-files.js";
import { type HelmLimits, type HelmSession, startHelmSession } from "../helm/helm-cli.js";
import type { ResolvedChart } from "../helm/release.js";
import { templateChart } from "../helm/template.js";
import { mergeValues, type Values } from "../helm/values.js";
import { planTree, type TreePlan } from "../reconcile/plan.js";
import type { ReconcileOptions } from "../reconcile/run.js";
import { defaultCacheDir } from "../source/cache.js";
import { SourceResolver } from "../source/resolver.js";

/** What one HelmRelease rendered (or why it did not). */
export interface RenderedRelease {
  /** `namespace/name` of the HelmRelease. */
  key: string;
  /** The HelmRelease as parsed (absent when it does not parse after substitution). */
  hr?: FluxHelmRelease;
  chart?: ResolvedChart;
  /** The release's objects, then its hooks, as `helm template` prints them; Secret values masked. */
  objects: KubernetesObject[];
  /** Why it could not be rendered: names the file, the HelmRelease and the field. */
  error?: string;
}

export interface RenderHelmOptions {
  /** Bounds on every helm command (default: defaultHelmLimits()). */
  limits?: Partial<HelmLimits>;
}

type BuildOptions = Pick<ReconcileOptions, "repoDir" | "selfSourceNames" | "cacheDir"> &
  Parameters<typeof planTree>[1];

/**
 * Plans the tree (as buildTree does) and hands `render` the plan with a resolver whose copy of the repository
 * is still there, so charts in this repository (GitRepository self references) resolve too.
 */
export async function withChartResolver<T>(
  opts: BuildOptions,
  render: (plan: TreePlan, resolver: SourceResolver) => Promise<T>,
): Promise<T> {
  const work = prepareWorkTree(opts.repoDir);
  try {
    const resolver = new SourceResolver({
      selfSourceNames: opts.selfSourceNames,
      selfDir: work.dir,
      cacheDir: opts.cacheDir ?? defaultCacheDir(),
      secrets: async (namespace, name) => {
        throw new Error(
          `credentials Secret ${namespace}/${name} are in the cluster, which build does not read`,
        );
      },
    });
    const plan = await planTree(work, opts, resolver);
    return await render(plan, resolver);
  } finally {
    work.cleanup();
  }
}

/** The HelmRelease's values without the cluster: its inline values; a note names each valuesFrom left out. */
export function offlineValues(hr: FluxHelmRelease): { values: Values; note?: string } {
  const skipped = (hr.spec.valuesFrom ?? []).flatMap((ref, i) =>
    ref.optional ? [] : [`spec.valuesFrom[${i}] (${ref.kind}/${hr.namespace}/${ref.name})`],
  );
  const values = mergeValues(Object.create(null) as Values, (hr.spec.values ?? {}) as Values);
  if (skipped.length === 0) return { values };
  return {
    values,
    note: `HelmRelease ${hr.namespace}/${hr.name}: rendered without ${skipped.join(", ")}: valuesFrom values are in the cluster, which build does not read`,
  };
}

/** A HelmRelease to render: its object as the build prints it, or (not printed) as the plan parsed it. */
export type ReleaseInput = { object: KubernetesObject; file: string } | { hr: FluxHelmRelease };

/**
 * Renders each HelmRelease of `inputs` (the build's objects, post-build substitution applied: what Flux would
 * apply; other objects are passed over), once per HelmRelease. Never throws for one HelmRelease: its error is
 * in its entry.
 */
export async function renderReleasesOffline(
  inputs: ReleaseInput[],
  resolver: SourceResolver,
  notes: string[],
  opts: RenderHelmOptions = {},
): Promise<Map<string, RenderedRelease>> {
  const rendered = new Map<string, RenderedRelease>();
  let session: HelmSession | undefined;
  try {
    for (const input of inputs) {
      let hr: FluxHelmRelease;
      if ("hr" in input) hr = input.hr;
      else {
        const { object, file } = input;
        if (!isHelmRelease(object)) continue;
        try {
          hr = parseHelmRelease(object, file);
        } catch (err) {
          const key = `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
          if (!rendered.has(key)) rendered.set(key, { key, objects: [], error: (err as Error).message });
          continue;
        }
      }
      const key = `${hr.namespace}/${hr.name}`;
      if (rendered.has(key)) continue;
      session ??= startHelmSession(undefined, opts.limits);
      rendered.set(key, await renderOne(hr, resolver, session, notes));
    }
  } finally {
    session?.cleanup();
  }
  return rendered;
}

async function renderOne(
  hr: FluxHelmRelease,
  resolver: SourceResolver,
  session: HelmSession,
  notes: string[],
): Promise<RenderedRelease> {
  const key = `${hr.namespace}/${hr.name}`;
  const where = `${hr.file}: ${helmReleaseKey(hr)}`;
  const chartField = hr.spec.chartRef ? "spec.chartRef" : "spec.chart";
  let chart: ResolvedChart;
  try {
    chart = await resolver.chart(hr);
  } catch (err) {
    const message = (err as Error).message;
    return { key, hr, objects: [], error: `${where}: ${chartErrorField(hr, message)}${message}` };
  }
  try {
    // The HelmRelease's own spec.chart.spec.valuesFiles, as a reconcile applies them (the error names them).
    chart = await applyChartValuesFiles(hr, chart, join(session.dir, "charts"));
  } catch (err) {
    const message = (err as Error).message;
    return { key, hr, objects: [], error: message.startsWith(hr.file) ? message : `${where}: ${message}` };
  }
  const what = `chart ${chart.name}@${chart.version}`;
  try {
    checkChartFiles(chart.path, { root: chart.root, what });
  } catch (err) {
    return { key, hr, chart, objects: [], error: `${where}: ${chartField}: ${(err as Error).message}` };
  }
  const { values, note } = offlineValues(hr);
  if (note) notes.push(note);
  try {
    const out = await templateChart(session, hr, chart, values, { isUpgrade: false, secrets: [] });
    return { key, hr, chart, objects: [...out.objects, ...out.hooks].map((o) => maskSecret(o)) };
  } catch (err) {
    return {
      key,
      hr,
      chart,
      objects: [],
      error: `${where}: helm template of ${what} failed: ${(err as Error).message}`,
    };
  }
}

/** The field a chart resolution error is about, unless the message starts with one already. */
function chartErrorField(hr: FluxHelmRelease, message: string): string {
  if (/^spec\./.test(message)) return "";
  if (hr.spec.chartRef) return "spec.chartRef: ";
  if (/is not in the repository index|not found/.test(message)) return "spec.chart.spec.chart: ";
  if (/no version of chart|semver range|version/.test(message)) return "spec.chart.spec.version: ";
  return "spec.chart.spec.sourceRef: ";
}
