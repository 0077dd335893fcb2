// Closing the reports of a reconcile that will not run because a newer commit replaced it (the queue dropped
// it, or its push job found the branch already further on).
import { runStopped } from "../../reconcile/events.js";
import { fullName } from "../client.js";
import { openReportStream, REPORTERS, type ReporterId, type WrittenReports } from "../reporters/index.js";
import { priorities, statusWriteKey } from "../reporters/planned-writes.js";
import { setStatus, statusContext } from "../views/commit-status.js";
import { reconcileStream, runMetadata } from "./reconcile-job.js";
import type { JobDeps, ReconcileJob } from "./types.js";

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
