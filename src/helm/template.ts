// Rendering a chart without the cluster (`helm template` in a session that has no kubeconfig), for dry-runs:
// a template's `lookup` finds nothing, so a pull request can never make a chart read a live object (a Secret)
// into its diff. What helm would discover — server version, API versions — is passed in from the bot's own
// discovery (capabilities.ts).
import type { KubernetesObject } from "@kubernetes/client-node";
import type { FluxHelmRelease } from "../flux/helm-release.js";
import { type ClusterCapabilities, capabilityArgs } from "./capabilities.js";
import type { HelmSession } from "./helm-cli.js";
import { parseManifest } from "./manifest.js";
import { postRendererPlugin } from "./post-render.js";
import type { ResolvedChart } from "./release.js";
import type { Values } from "./values.js";

export const HOOK_ANNOTATION = "helm.sh/hook";

export interface RenderedChart {
  /** The release's objects: what `helm get manifest` would list after the install or upgrade. */
  objects: KubernetesObject[];
  /** Hooks (`helm.sh/hook`), which helm keeps out of the release manifest and runs on their own. */
  hooks: KubernetesObject[];
}

export interface TemplateOptions {
  isUpgrade: boolean;
  capabilities?: ClusterCapabilities;
  /** Secret-derived values, scrubbed from helm's errors. */
  secrets: readonly string[];
}

/** `helm template` of the chart with these values; throws a HelmError with helm's message. */
export async function templateChart(
  helm: HelmSession,
  hr: FluxHelmRelease,
  chart: ResolvedChart,
  values: Values,
  opts: TemplateOptions,
): Promise<RenderedChart> {
  if (helm.cluster) throw new Error("internal: charts are rendered for dry-runs without cluster access");
  const settings = opts.isUpgrade ? (hr.spec.upgrade ?? {}) : (hr.spec.install ?? {});
  const args = [
    "template",
    hr.releaseName,
    chart.path,
    "--namespace",
    hr.releaseNamespace,
    "--values",
    "-",
    // The default for `template`, said explicitly: never --dry-run=server, which gives `lookup` the cluster.
    "--dry-run=client",
    ...capabilityArgs(opts.capabilities),
  ];
  if (opts.isUpgrade) args.push("--is-upgrade");
  if (settings.disableHooks) args.push("--no-hooks");
  if (settings.disableSchemaValidation) args.push("--skip-schema-validation");
  const plugin = await postRendererPlugin(helm, hr);
  if (plugin) args.push("--post-renderer", plugin);
  const text = await helm.run(args, { input: JSON.stringify(values), secrets: opts.secrets });
  const objects: KubernetesObject[] = [];
  const hooks: KubernetesObject[] = [];
  for (const obj of parseManifest(text)) {
    (obj.metadata?.annotations?.[HOOK_ANNOTATION] ? hooks : objects).push(obj);
  }
  return { objects, hooks };
}

/** The chart's `crds/` directory, read without the cluster (`helm show crds`). */
export async function chartCrds(
  helm: HelmSession,
  chart: ResolvedChart,
  secrets: readonly string[],
): Promise<KubernetesObject[]> {
  const text = await helm.run(["show", "crds", chart.path], { secrets });
  return parseManifest(text).filter((o) => o.kind === "CustomResourceDefinition");
}
