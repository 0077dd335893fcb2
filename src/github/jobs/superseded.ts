// Closing the reports of a reconcile that will not run because a newer commit replaced it (the queue dropped
// it, or its push job found the branch already further on).
import type { Logger } from "pino";
import type { RepoCluster } from "../../config/repo-config.js";
import { runStopped } from "../../reconcile/events.js";
import { fullName, type GitHubClient, type RepoRef } from "../client.js";
import { openReportStream, REPORTERS, type ReporterId, WrittenReports } from "../reporters/index.js";
import { priorities, statusWriteKey } from "../reporters/planned-writes.js";
import { CHECK_RUN_NOT_CREATED } from "../views/check-run.js";
import { codeSpan } from "../views/code-span.js";
import { clusterStatuses, setStatus, statusContext } from "../views/commit-status.js";
import { lastCheckRun } from "./last-check-run.js";
import { reconcileStream, runMetadata } from "./reconcile-job.js";
import { type JobDeps, jobRepo, type PushJob, type ReconcileJob } from "./types.js";

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
  /** The cluster's final status is on the commit already (a lost start wrote it): not written again. */
  statusWritten = false,
): Promise<void> {
  const all = await reconcileStream(job, deps, written);
  await all.close();
  const { target } = all;
  const stream = openReportStream(target, {
    written,
    only: (Object.keys(REPORTERS) as ReporterId[]).filter((id) => id !== "commit-status"),
  });
  const context = statusContext.cluster(job.cluster.name);
  if (!statusWritten)
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
 * A restarted job (its replica was lost) closes the check run its lost start left instead of adding one.
 */
export async function closePushBehindHead(
  job: PushJob,
  cluster: RepoCluster,
  head: string,
  deps: JobDeps,
  start: { restarted: boolean; log: Logger },
): Promise<void> {
  const github = await deps.github(job.installationId);
  const checkRunId = start.restarted
    ? await lostStartCheckRun(github, jobRepo(job), job.sha, cluster.name, start.log, deps.appId)
    : CHECK_RUN_NOT_CREATED;
  if (checkRunId === undefined) return;
  const message = `superseded: ${job.branch} is at ${head.slice(0, 7)} now; not applied`;
  // One final status per commit: the lost start may have written its own before the replica went.
  const statusWritten =
    start.restarted && (await hasFinalStatus(github, jobRepo(job), job.sha, cluster.name, start.log));
  await closeSuperseded(
    { ...job, type: "reconcile", cluster, checkRunId },
    deps,
    new WrittenReports(),
    message,
    {
      conclusion: "skipped",
      message,
      detail: `${codeSpan(job.branch)} was already at \`${head}\` when this push of \`${job.sha}\` was handled (a later push moved it, or this one was delivered late); only the branch head is applied, and this commit was not.`,
    },
    statusWritten,
  );
}

/**
 * Whether the commit carries a final (not pending) status of the cluster already; false when GitHub cannot say
 * (then it is written: a second status is better than none).
 */
async function hasFinalStatus(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  cluster: string,
  log: Logger,
): Promise<boolean> {
  try {
    const { aggregate } = await clusterStatuses(github, repo, sha, cluster);
    return aggregate !== undefined && aggregate.state !== "pending";
  } catch (err) {
    log.warn({ err, cluster }, "cannot read the commit's statuses; the superseded status is written");
    return false;
  }
}

/**
 * The check run a restarted push job's lost start left for this commit and cluster (one request): a queued one
 * (its reconcile, if it was queued, can only end superseded now) or one it already closed as skipped is closed
 * (again); undefined when a run already completed it otherwise (it ran: nothing to add) or runs it now (in
 * progress: it may have found the branch at this commit and be applying it; only it concludes its check run,
 * or the queue's restart or give-up of it); CHECK_RUN_NOT_CREATED when there is none, or GitHub cannot say
 * (the close creates one).
 */
async function lostStartCheckRun(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  cluster: string,
  log: Logger,
  appId: number | undefined,
): Promise<number | undefined> {
  try {
    const last = await lastCheckRun(github, repo, sha, cluster, appId);
    if (!last) return CHECK_RUN_NOT_CREATED;
    if (last.status === "completed" ? last.conclusion === "skipped" : last.status !== "in_progress") {
      return last.id;
    }
    return undefined;
  } catch (err) {
    log.warn({ err, cluster }, "cannot list the commit's check runs; the superseded one is created anew");
    return CHECK_RUN_NOT_CREATED;
  }
}
