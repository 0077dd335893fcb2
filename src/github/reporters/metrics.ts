// Prometheus series from the stream: every engine run's result (a dry-run counts as a PR preview) goes to the
// process's GitOpsMetrics, with the cluster, repository and revision its events carry.
import type { ReporterContext, ReporterFactory, StreamEvent } from "./types.js";

export const metricsReporter: ReporterFactory = ({ target }: ReporterContext) => {
  const metrics = target.metrics;
  if (!metrics) return undefined;
  return {
    on: ({ cluster, event }: StreamEvent) => {
      if (event.type !== "run-finished") return;
      const { revision, repository } = event.event.metadata;
      metrics.recordRun(event.result, {
        cluster,
        repository: repository ?? `${target.repo.owner}/${target.repo.repo}`,
        ...(revision ? { revision } : {}),
      });
    },
  };
};
