// A run the bot's shutdown cut off, or never started because the bot was stopping: its reports say so
// truthfully — the cluster's status an error "the bot was shut down; it will be re-run", its check run
// completed as `cancelled` (GitHub's conclusion for a run stopped from outside) — and the start-up recovery
// (recover-runs.ts) re-runs it, finding it by that conclusion. No other path completes a check run as cancelled.
import { type EventMetadata, runStopped } from "../../reconcile/events.js";
import { fullName } from "../client.js";
import { openReportStream, REPORTERS, type ReporterId, type ReportTarget } from "../reporters/index.js";
import { checkRunWriteKey, priorities } from "../reporters/planned-writes.js";
import type { WrittenReports } from "../reporters/written-reports.js";
import {
  CHECK_RUN_NOT_CREATED,
  checkRunName,
  completeCheckRun,
  createCompletedCheckRun,
} from "../views/check-run.js";
import type { CheckRunReport } from "../views/check-run-report.js";

export const SHUT_DOWN_DURING_RUN = "the bot was shut down during the run; it will be re-run";
export const SHUT_DOWN_BEFORE_RUN = "the bot was shut down before this run started; it will be re-run";

/** The check run conclusion that marks a run for the next start's recovery. */
export const INTERRUPTED_CONCLUSION = "cancelled";

/**
 * Reports the run of `cluster` at `target.sha` as interrupted: every reporter but the check run's gets an
 * error stop, and the check run (`target.checkRuns[cluster]`, or a new one) is completed as cancelled.
 * Resolves when the writes are sent or `closeTimeoutMs` passed.
 */
export async function reportInterrupted(
  target: ReportTarget,
  options: { written?: WrittenReports; closeTimeoutMs?: number },
  job: { owner: string; repo: string; sha: string; branch?: string },
  cluster: string,
  message: string,
  metadata: EventMetadata = {
    revision: `${job.branch ? `${job.branch}@` : ""}sha1:${job.sha}`,
    commit: job.sha,
    cluster,
    repository: `${job.owner}/${job.repo}`,
  },
): Promise<void> {
  const stream = openReportStream(target, {
    ...options,
    only: (Object.keys(REPORTERS) as ReporterId[]).filter((id) => id !== "check-run"),
  });
  const id = target.checkRuns?.[cluster];
  const report: CheckRunReport = {
    conclusion: INTERRUPTED_CONCLUSION,
    title: `${cluster}: ${message}`.slice(0, 255),
    summary: `gitops-bot was stopped (SIGTERM) before this run of \`${cluster}\` at \`${target.sha}\` ended. The cluster may be partly applied; at its next start the bot re-runs this commit if it is still the head of its branch, or marks it superseded.`,
  };
  if (id !== undefined) {
    stream.plan.want({
      key:
        id === CHECK_RUN_NOT_CREATED
          ? `${checkRunWriteKey(fullName(target.repo), target.sha, 0)} ${cluster} interrupted`
          : checkRunWriteKey(fullName(target.repo), target.sha, id),
      priority: priorities.aggregate,
      fingerprint: `${report.conclusion} ${report.title}`,
      what: `check run ${checkRunName(cluster)} (cancelled)`,
      send: () =>
        id === CHECK_RUN_NOT_CREATED
          ? createCompletedCheckRun(target.github, target.repo, target.sha, cluster, report)
          : completeCheckRun(target.github, target.repo, id, report),
    });
  }
  stream.emit(cluster, runStopped({ conclusion: "failure", state: "error", message }, metadata));
  await stream.close();
}
