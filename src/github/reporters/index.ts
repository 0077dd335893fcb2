// Every reporter, by id: the one place a report destination is registered. Adding one is adding a file and a
// line here (like repository-settings' Settings.PLUGINS). Each decides from its target whether it applies.
import { checkRunReporter } from "./check-run.js";
import { commitStatusReporter } from "./commit-status.js";
import { deploymentReporter } from "./deployment.js";
import { logReporter } from "./log.js";
import { metricsReporter } from "./metrics.js";
import { notificationReporter } from "./notification.js";
import { prCommentReporter } from "./pr-comment.js";
import { ReportStream, type ReportStreamOptions } from "./stream.js";
import type { ReporterFactory, ReportTarget } from "./types.js";

export const REPORTERS = {
  "commit-status": commitStatusReporter,
  "check-run": checkRunReporter,
  "pr-comment": prCommentReporter,
  deployment: deploymentReporter,
  log: logReporter,
  notification: notificationReporter,
  metrics: metricsReporter,
} satisfies Record<string, ReporterFactory>;

export type ReporterId = keyof typeof REPORTERS;

/** Opens a run's report stream with every registered reporter (or only `only`, e.g. logs for image scans). */
export function openReportStream(
  target: ReportTarget,
  options: Omit<ReportStreamOptions, "reporters"> & { only?: ReporterId[] } = {},
): ReportStream {
  const reporters: Record<string, ReporterFactory> = options.only
    ? Object.fromEntries(options.only.map((id) => [id, REPORTERS[id]]))
    : REPORTERS;
  return new ReportStream(target, { ...options, reporters });
}

export { type RunNotifications, runNotifications } from "./notification.js";
export { ReportStream } from "./stream.js";
export type { ReportTarget, StreamEvent } from "./types.js";
export { WrittenReports } from "./written-reports.js";
