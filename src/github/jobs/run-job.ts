// The queue's handlers: dispatch a job by type, report superseded reconciles, and remember deliveries.
import type { WorkQueueHandlers } from "../../queue/work-queue.js";
import { fullName } from "../client.js";
import { WrittenReports } from "../reporters/index.js";
import { runCommandJob } from "./command-job.js";
import { runDiffJob } from "./diff-job.js";
import { runImagesJob } from "./images-job.js";
import { runPushJob } from "./push-job.js";
import { runReconcileJob } from "./reconcile-job.js";
import { runScheduledJob } from "./scheduled-job.js";
import { closeSuperseded } from "./superseded.js";
import { type GitOpsJob, type JobDeps, jobRepo } from "./types.js";

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
