// The queue's handlers: dispatch a job by type, report superseded reconciles, and remember deliveries.
import type { WorkQueueHandlers } from "../../queue/work-queue.js";
import { runStopped } from "../../reconcile/events.js";
import { fullName } from "../client.js";
import { WrittenReports } from "../reporters/index.js";
import { runCommandJob } from "./command-job.js";
import { runDiffJob } from "./diff-job.js";
import { runImagesJob } from "./images-job.js";
import { runPushJob } from "./push-job.js";
import { reconcileStream, runMetadata, runReconcileJob } from "./reconcile-job.js";
import { type GitOpsJob, type JobDeps, jobRepo } from "./types.js";

export function jobHandlers(deps: () => JobDeps): WorkQueueHandlers<GitOpsJob> {
  // What this process wrote to GitHub, so that re-runs of a commit do not write the same statuses again.
  const written = new WrittenReports();
  return {
    run: async (job) => {
      switch (job.type) {
        case "push":
          return runPushJob(job, deps());
        case "reconcile":
          return void (await runReconcileJob(job, deps(), written));
        case "diff":
          return runDiffJob(job, deps());
        case "images":
          return runImagesJob(job, deps());
        case "command":
          return runCommandJob(job, deps());
      }
    },
    superseded: async (dropped, by) => {
      if (dropped.type !== "reconcile" || by.type !== "reconcile") return;
      const d = deps();
      const repo = jobRepo(dropped);
      const message = `superseded by ${by.sha.slice(0, 7)} before it ran; not applied`;
      d.log.info({ repo: fullName(repo), sha: dropped.sha, cluster: dropped.cluster.name }, message);
      const stream = await reconcileStream(dropped, d, written);
      stream.emit(
        dropped.cluster.name,
        runStopped(
          {
            conclusion: "skipped",
            state: "error",
            message,
            detail: `A newer commit, \`${by.sha}\`, was pushed to \`${by.branch}\` while this one waited; only the newest commit is applied.`,
          },
          runMetadata(dropped, dropped.cluster.name),
        ),
      );
      await stream.close();
    },
    failed: (job, error) => {
      const d = deps();
      // A failed job's delivery is forgotten so that redelivering the webhook retries it.
      d.deliveries.forget(job.deliveryId);
      d.log.error({ err: error, job: { type: job.type, repo: `${job.owner}/${job.repo}` } }, "job failed");
    },
  };
}
