// The queue's handlers: dispatch a job by type, report superseded reconciles, and remember deliveries.
import type { WorkQueueHandlers } from "../../queue/work-queue.js";
import { fullName } from "../client.js";
import { completeCheckRun } from "../views/check-run.js";
import { setStatus, statusContext } from "../views/commit-status.js";
import { runCommandJob } from "./command-job.js";
import { runDiffJob } from "./diff-job.js";
import { runImagesJob } from "./images-job.js";
import { runPushJob } from "./push-job.js";
import { runReconcileJob } from "./reconcile-job.js";
import { type GitOpsJob, type JobDeps, jobRepo } from "./types.js";

export function jobHandlers(deps: () => JobDeps): WorkQueueHandlers<GitOpsJob> {
  return {
    run: async (job) => {
      switch (job.type) {
        case "push":
          return runPushJob(job, deps());
        case "reconcile":
          return void (await runReconcileJob(job, deps()));
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
      const github = await d.github(dropped.installationId);
      const repo = jobRepo(dropped);
      const message = `superseded by ${by.sha.slice(0, 7)} before it ran; not applied`;
      d.log.info({ repo: fullName(repo), sha: dropped.sha, cluster: dropped.cluster.name }, message);
      await setStatus(github, repo, dropped.sha, {
        context: statusContext.cluster(dropped.cluster.name),
        state: "error",
        description: message,
      });
      await completeCheckRun(github, repo, dropped.checkRunId, {
        title: `${dropped.cluster.name}: ${message}`,
        summary: `A newer commit, \`${by.sha}\`, was pushed to \`${by.branch}\` while this one waited; only the newest commit is applied.`,
        conclusion: "skipped",
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
