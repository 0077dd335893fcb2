// Closing the reports of a reconcile that will not run because a newer commit replaced it (the queue dropped
// it, or its push job found the branch already further on).
import type { RepoCluster } from "../../config/repo-config.js";
import { runStopped } from "../../reconcile/events.js";
import { fullName } from "../client.js";
import { openReportStream, REPORTERS, type ReporterId, WrittenReports } from "../reporters/index.js";
import { priorities, statusWriteKey } from "../reporters/planned-writes.js";
import { setStatus, statusContext } from "../views/commit-status.js";
import { reconcileStream, runMetadata } from "./reconcile-job.js";
import type { JobDeps, PushJob, ReconcileJob } from "./types.js";

/**
 * Closes the reports of a reconcile that never ran because a newer commit replaced it. Superseded is not a
 * failure: the check run is completed as skipped (by every reporter but the commit status one, which would
 * write a push that did not apply as an error), and the cluster's status is a success whose description
 * says it was superseded and not applied — commit statuses have no neutral state.
 */
export async function closeSuperseded(
  job: ReconcileJob,
  deps: JobDeps,
  written: WrittenReports,
  description: string,
  stop: { conclusion: "skipped"; message: string; detail: string },
): Promise<void> {
  const all = await reconcileStream(job, deps, written);
  await all.close();
  const { target } = all;
  const stream = openReportStream(target, {
    written,
    only: (Object.keys(REPORTERS) as ReporterId[]).filter((id) => id !== "commit-status"),
  });
  const context = statusContext.cluster(job.cluster.name);
  stream.plan.want({
    key: statusWriteKey(fullName(target.repo), job.sha, context),
    priority: priorities.aggregate,
    fingerprint: `success ${description}`,
    what: `status ${context}`,
    send: () => setStatus(target.github, target.repo, job.sha, { context, state: "success", description }),
  });
  stream.emit(job.cluster.name, runStopped(stop, runMetadata(job, job.cluster.name)));
  await stream.close();
}

/**
 * Closes a push's reports for one cluster when its push job found the branch at another commit (`head`): a
 * delivery that came after the head's. No reconcile is queued for it, so it can never supersede the head's.
 * `checkRunId` is CHECK_RUN_NOT_CREATED unless a restarted job found its lost start's queued check run.
 */
export async function closePushBehindHead(
  job: PushJob,
  cluster: RepoCluster,
  checkRunId: number,
  head: string,
  deps: JobDeps,
): Promise<void> {
  const message = `superseded: ${job.branch} is at ${head.slice(0, 7)} now; not applied`;
  await closeSuperseded(
    { ...job, type: "reconcile", cluster, checkRunId },
    deps,
    new WrittenReports(),
    message,
    {
      conclusion: "skipped",
      message,
      detail: `\`${job.branch}\` was already at \`${head}\` when this push of \`${job.sha}\` was handled (a later push moved it, or this one was delivered late); only the branch head is applied, and this commit was not.`,
    },
  );
}
