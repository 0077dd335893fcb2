// Flux `HelmChart` (source.toolkit.fluxcd.io/v1): a chart by name and version from a HelmRepository, or a chart
// directory in a GitRepository, with its values files, as a source HelmReleases name through `spec.chartRef`.
// Field names and meanings follow Flux's API reference (docs/spec/v1/helmcharts.md of source-controller);
// docs/flux-compatibility.md says where we differ. The fetching is src/source/kinds/helm-chart/.
import type { KubernetesObject } from "@kubernetes/client-node";
import { z } from "zod";
import { durationSchema as duration, parseDuration } from "./duration.js";
import { ManifestError } from "./errors.js";
import {
  chartNameError,
  chartVersionError,
  checked,
  checkedMetadata,
  objectNameSchema,
  relativePathError,
} from "./names.js";
import { parseSpec } from "./parse-spec.js";

export const HELM_CHART_API_VERSION = "source.toolkit.fluxcd.io/v1";

/** The most values files one chart may name (Flux sets no bound; ours keeps the work of one chart small). */
export const MAX_VALUES_FILES = 64;

export const helmChartSpecSchema = z.strictObject({
  chart: z.string().min(1),
  version: checked(chartVersionError).optional(),
  // Flux's LocalHelmChartSourceReference: the source is always in the HelmChart's own namespace.
  sourceRef: z.strictObject({
    kind: z.enum(["HelmRepository", "GitRepository", "Bucket"]),
    name: objectNameSchema,
    apiVersion: z.string().optional(),
  }),
  interval: duration,
  reconcileStrategy: z.enum(["ChartVersion", "Revision"]).optional(),
  valuesFiles: z.array(z.string()).max(MAX_VALUES_FILES).optional(),
  ignoreMissingValuesFiles: z.boolean().optional(),
  suspend: z.boolean().optional(),
  verify: z.unknown().optional(),
});

export type HelmChartSpec = z.infer<typeof helmChartSpecSchema>;

export interface HelmChartSource {
  kind: "HelmChart";
  name: string;
  namespace: string;
  /** Repository-relative file the object was read from. */
  file: string;
  timeoutMs: number;
  spec: HelmChartSpec;
}

export function isHelmChart(obj: KubernetesObject): boolean {
  return obj.kind === "HelmChart" && (obj.apiVersion ?? "").startsWith("source.toolkit.fluxcd.io/");
}

/** Validates a Flux HelmChart read from `file`; errors name the file, object and field. */
export function parseHelmChart(obj: KubernetesObject, file: string): HelmChartSource {
  const { name, namespace, subject } = checkedMetadata(obj, "HelmChart", file);
  const where = (field: string) => ({ file, object: subject, field });
  if (obj.apiVersion !== HELM_CHART_API_VERSION) {
    throw new ManifestError(
      where("apiVersion"),
      `${obj.apiVersion} is not supported; use ${HELM_CHART_API_VERSION}`,
    );
  }
  const spec = parseSpec(helmChartSpecSchema, obj, file, subject);
  if (spec.sourceRef.kind === "Bucket") {
    throw new ManifestError(
      where("spec.sourceRef.kind"),
      "Bucket sources are not supported; use a HelmRepository or a GitRepository",
    );
  }
  // From a GitRepository the chart is a directory in it; from a HelmRepository, a name in its index.
  const why =
    spec.sourceRef.kind === "GitRepository" ? relativePathError(spec.chart) : chartNameError(spec.chart);
  if (why) throw new ManifestError(where("spec.chart"), why);
  // A values file path: relative, inside the source (no absolute path, URL, `..` out, control characters).
  for (const [i, path] of (spec.valuesFiles ?? []).entries()) {
    const bad = relativePathError(path);
    if (bad) throw new ManifestError(where(`spec.valuesFiles[${i}]`), bad);
  }
  if (spec.verify) {
    throw new ManifestError(where("spec.verify"), "chart signature verification is not supported");
  }
  // Flux fetches the chart with its source's timeout; ours is the HelmChart's own default (60s).
  return { kind: "HelmChart", name, namespace, file, timeoutMs: parseDuration("60s"), spec };
}
