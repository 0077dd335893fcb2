// HelmChart (source.toolkit.fluxcd.io/v1): a chart from a HelmRepository (by name and version) or a chart
// directory in a GitRepository (by path, this repository included), packaged with its spec.valuesFiles, for
// HelmReleases that name it in spec.chartRef. Its revision is the chart version, as Flux reports it.
// It has no files for a Kustomization (no `artifact`). Bucket sources are refused when the object is parsed.
import type { HelmChartSource } from "../../../flux/helm-chart.js";
import { sourceKey } from "../../../flux/sources.js";
import { chartFromDirectory } from "../chart-directory.js";
import { helmRepository } from "../helm-repository/index.js";
import type { ChartSpec, SourceChart, SourceContext, SourceKindModule } from "../types.js";
import { withValuesFiles } from "./values-files.js";

export const helmChart: SourceKindModule<HelmChartSource> = {
  kind: "HelmChart",
  displayUrl: () => undefined,
  async chartRef(source, hr, ctx) {
    const chart = await fetchChart(source, hr, ctx);
    const files = (source.spec.valuesFiles ?? []).map((path, i) => ({
      path,
      field: `spec.valuesFiles[${i}]`,
    }));
    const applied = await withValuesFiles(
      chart,
      {
        files,
        ignoreMissing: source.spec.ignoreMissingValuesFiles ?? false,
        where: { file: source.file, object: sourceKey(source) },
      },
      ctx.cacheDir,
    );
    return {
      ...applied,
      source: `${sourceKey(source)}@${chart.version}`,
      revision: chart.version,
    };
  },
};

async function fetchChart(
  source: HelmChartSource,
  hr: Parameters<NonNullable<SourceKindModule["chartRef"]>>[1],
  ctx: SourceContext,
): Promise<SourceChart> {
  const { spec } = source;
  // Flux's LocalHelmChartSourceReference: the source is in the HelmChart's namespace.
  const ref = { kind: spec.sourceRef.kind, name: spec.sourceRef.name, namespace: source.namespace };
  if (ref.kind === "GitRepository") {
    // The self reference (this repository) is resolved by artifactOf as for any GitRepository.
    const artifact = await ctx.artifactOf(ref, source.namespace, "spec.sourceRef");
    return chartFromDirectory({
      root: artifact.dir,
      chartPath: spec.chart,
      hr,
      field: `spec.chartRef (${sourceKey(source)} spec.chart)`,
      strategy: spec.reconcileStrategy,
      source: sourceKey(source),
    });
  }
  const repository = ctx.find(ref, source.namespace);
  if (repository?.kind !== "HelmRepository" || !helmRepository.chart) {
    throw new Error(
      `spec.sourceRef: HelmRepository ${source.namespace}/${ref.name} is not defined in the repository`,
    );
  }
  const chartSpec: ChartSpec = {
    chart: spec.chart,
    ...(spec.version !== undefined ? { version: spec.version } : {}),
    sourceRef: ref,
  };
  return helmRepository.chart(repository, chartSpec, hr, ctx);
}
