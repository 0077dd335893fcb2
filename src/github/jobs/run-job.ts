// The queue's handlers: dispatch a job by type, report superseded reconciles, and remember deliveries.
import type { WorkQueueHandlers } from "../../queue/work-queue.js";
import { runStopped } from "../../reconcile/events.js";
import { fullName } from "../client.js";
import { openReportStream, REPORTERS, type ReporterId, WrittenReports } from "../reporters/index.js";
import { priorities, statusWriteKey } from "../reporters/planned-writes.js";
import { setStatus, statusContext } from "../views/commit-status.js";
import { runCommandJob } from "./command-job.js";
import { runDiffJob } from "./diff-job.js";
import { runImagesJob } from "./images-job.js";
import { runPushJob } from "./push-job.js";
import { reconcileStream, runMetadata, runReconcileJob } from "./reconcile-job.js";
import { runScheduledJob } from "./scheduled-job.js";
import { type GitOpsJob, type JobDeps, jobRepo, type ReconcileJob } from "./types.js";

/**
 * Closes the reports of a reconcile that never ran because a newer commit replaced it. Superseded is not a
 * failure: the check run is completed as skipped (by every reporter but the commit status one, which would
 * write a push that did not apply as an error), and the cluster's status is a success whose description
 * says it was superseded and not applied — commit statuses have no neutral state.
 */
async function closeSuperseded(
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

export function jobHandlers(deps: () => JobDeps): WorkQueueHandlers<GitOpsJob> {
  // What this process wrote to GitHub, so that re-runs of a commit do not write the same statuses again.
  const written = new WrittenReports();
  return {
    run: async (job, info) => {
      switch (job.type) {
        case "push":
          return runPushJob(job, deps(), { restarted: info?.restarted ?? false });
        case "reconcile": {
          const d = deps();
          const run = await runReconcileJob(job, d, written);
          // A push's run sets the schedule of what it reconciled, as a scheduled run does.
          if (run && d.schedule) await d.schedule.afterRun(d.schedule.target(job), job.sha, run);
          return;
        }
        case "scheduled":
          return void (await runScheduledJob(job, deps(), written));
        case "diff":
          return runDiffJob(job, deps());
        case "images":
          return runImagesJob(job, deps());
        case "command":
          return runCommandJob(job, deps());
      }
    },
    superseded: async (dropped, by) => {
      // A waiting scheduled run dropped for a push: the push reconciles the same head; the next firing queues again.
      if (dropped.type === "scheduled") {
        const schedule = deps().schedule;
        schedule?.schedule.dropped(schedule.target(dropped).key);
        return;
      }
      if (dropped.type !== "reconcile" || by.type !== "reconcile") return;
      const d = deps();
      const repo = jobRepo(dropped);
      const where = { repo: fullName(repo), sha: dropped.sha, cluster: dropped.cluster.name };
      if (by.sha === dropped.sha && by.checkRunId === dropped.checkRunId) {
        // The same push delivered again: the job that replaced this one reports on the same check run.
        d.log.info(where, "the same commit was queued again; its newer job reports");
        return;
      }
      const message = `superseded by ${by.sha.slice(0, 7)} before it ran; not applied`;
      d.log.info(where, message);
      await closeSuperseded(dropped, d, written, message, {
        conclusion: "skipped",
        message,
        detail: `A newer commit, \`${by.sha}\`, was pushed to \`${by.branch}\` while this one waited; only the newest commit is applied.`,
      });
    },
    failed: (job, error) => {
      const d = deps();
      // A failed job's delivery is forgotten so that redelivering the webhook retries it.
      d.deliveries.forget(job.deliveryId);
      d.log.error({ err: error, job: { type: job.type, repo: `${job.owner}/${job.repo}` } }, "job failed");
    },
  };
}
