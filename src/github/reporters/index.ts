// Every reporter, by id: the one place a report destination is registered. Adding one is adding a file and a
// line here (like repository-settings' Settings.PLUGINS). Each decides from its target whether it applies.
import { checkRunReporter } from "./check-run.js";
import { commitStatusReporter } from "./commit-status.js";
import { deploymentReporter } from "./deployment.js";
import { driftIssueReporter } from "./drift-issue.js";
import { logReporter } from "./log.js";
import { metricsReporter } from "./metrics.js";
import { notificationReporter } from "./notification.js";
import { prCommentReporter } from "./pr-comment.js";
import { ReportStream, type ReportStreamOptions } from "./stream.js";
import type { ReporterContext, ReporterFactory, ReportTarget } from "./types.js";
import { WrittenReports } from "./written-reports.js";

export const REPORTERS = {
  "commit-status": commitStatusReporter,
  "check-run": checkRunReporter,
  "pr-comment": prCommentReporter,
  deployment: deploymentReporter,
  "drift-issue": driftIssueReporter,
  log: logReporter,
  notification: notificationReporter,
  metrics: metricsReporter,
} satisfies Record<string, ReporterFactory>;

export type ReporterId = keyof typeof REPORTERS;

/** A reporter factory as the stream calls it here: also given what this process wrote in earlier runs. */
type RememberingFactory = (
  context: ReporterContext & { written: WrittenReports },
) => ReturnType<ReporterFactory>;

/** Opens a run's report stream with every registered reporter (or only `only`, e.g. logs for image scans). */
export function openReportStream(
  target: ReportTarget,
  options: Omit<ReportStreamOptions, "reporters"> & { only?: ReporterId[] } = {},
): ReportStream {
  const chosen: Record<string, RememberingFactory> = options.only
    ? Object.fromEntries(options.only.map((id) => [id, REPORTERS[id]]))
    : REPORTERS;
  // What this process wrote before, for reporters that carry a state from run to run (the drift issue).
  const written = options.written ?? new WrittenReports();
  const reporters = Object.fromEntries(
    Object.entries(chosen).map(([id, factory]) => [id, (c: ReporterContext) => factory({ ...c, written })]),
  );
  return new ReportStream(target, { ...options, written, reporters });
}

export { type RunNotifications, runNotifications } from "./notification.js";
export { ReportStream } from "./stream.js";
export type { ReportTarget, StreamEvent } from "./types.js";
export { WrittenReports };
