// A job the queue refused (its repository, or the whole bot, already had as many jobs waiting as the operator
// allows): say so where its users look, so that no status stays pending and no required check waits forever.
// A refused push or reconcile sets an error status per cluster; a refused pull request diff an error
// gitops/diff/<cluster> status. Refused commands and image reads are only logged: replying to each comment of
// a flood would multiply it.
import { clustersForBranch } from "../../config/repo-config.js";
import { type RunEvent, runStopped } from "../../reconcile/events.js";
import { fullName } from "../client.js";
import { loadRepoConfig } from "../repo-config-loader.js";
import { openReportStream } from "../reporters/index.js";
import { reportOptions } from "../reporters/options.js";
import { stopDiffOnEveryCluster } from "./diff-clusters.js";
import { reconcileStream, runMetadata } from "./reconcile-job.js";
import { type GitOpsJob, type JobDeps, jobRepo } from "./types.js";

/** The repository a job belongs to, for the queue's fairness and per-repository bounds. */
export function jobGroup(job: GitOpsJob): string {
  return `${job.installationId}:${job.owner}/${job.repo}`.toLowerCase();
}

/** A run of `cluster` that was never queued: an error status and a skipped check run saying how to retry. */
export function notQueued(
  job: Parameters<typeof runMetadata>[0],
  cluster: string,
  reason: string,
  retry: "reconcile" | "diff" = "reconcile",
): RunEvent {
  return runStopped(
    { conclusion: "skipped", state: "error", message: `${reason}; push again or comment /gitops ${retry}` },
    runMetadata(job, cluster),
  );
}

export function reportRefusedJob(deps: () => JobDeps): (job: GitOpsJob, reason: string) => Promise<void> {
  return async (job, reason) => {
    const d = deps();
    // Forgotten so that a redelivery of the webhook, once the queue has room, is accepted.
    d.deliveries.forget(job.deliveryId);
    const repo = jobRepo(job);
    const log = d.log.child({ repo: fullName(repo), job: job.type });
    log.warn({ reason }, "job refused by the work queue");
    switch (job.type) {
      case "reconcile": {
        const message = `${reason}; push again or comment /gitops reconcile`;
        const stream = await reconcileStream(job, d, undefined);
        stream.emit(
          job.cluster.name,
          runStopped(
            { conclusion: "skipped", state: "error", message, detail: `Nothing was applied: ${message}.` },
            runMetadata(job, job.cluster.name),
          ),
        );
        return stream.close();
      }
      case "push": {
        const github = await d.github(job.installationId);
        const loaded = await loadRepoConfig(github, repo, job.defaultBranch);
        if (loaded.kind !== "ok") return;
        const clusters = clustersForBranch(loaded.config, job.branch, job.defaultBranch).filter(
          (c) => !job.onlyCluster || c.name === job.onlyCluster,
        );
        const stream = openReportStream({
          github,
          repo,
          sha: job.sha,
          log,
          kind: "push",
          pendingStatuses: reportOptions(d.operator).pendingStatuses,
        });
        for (const cluster of clusters) stream.emit(cluster.name, notQueued(job, cluster.name, reason));
        return stream.close();
      }
      case "diff":
        return stopDiffOnEveryCluster(job, d, (cluster) =>
          notQueued({ ...job, sha: job.headSha }, cluster, reason, "diff"),
        );
      case "command":
      case "images":
        return;
    }
  };
}
