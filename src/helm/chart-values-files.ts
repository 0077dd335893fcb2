// A HelmRelease's spec.chart.spec.valuesFiles applied to its resolved chart: Flux's HelmChart template packages
// the chart with them (a chart from a HelmChart named by chartRef comes with its own applied already). Shared
// by reconciles, dry-runs and `build --render-helm`, so all three render the same chart.
import { chartValuesFiles, type FluxHelmRelease, helmReleaseKey } from "../flux/helm-release.js";
import { withValuesFiles } from "../source/kinds/helm-chart/values-files.js";
import type { ResolvedChart } from "./release.js";

/** The chart with the HelmRelease's values files merged into its values.yaml; `dir` holds the copy. */
export function applyChartValuesFiles(
  hr: FluxHelmRelease,
  chart: ResolvedChart,
  dir: string,
): Promise<ResolvedChart> {
  const files = chartValuesFiles(hr.spec);
  if (files.length === 0) return Promise.resolve(chart);
  return withValuesFiles(
    chart,
    {
      files,
      ignoreMissing: hr.spec.chart?.spec.ignoreMissingValuesFiles ?? false,
      where: { file: hr.file, object: helmReleaseKey(hr) },
    },
    dir,
  );
}
