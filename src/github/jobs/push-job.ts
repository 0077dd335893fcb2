// A push, once queued: read .github/gitops.yaml from the default branch, check each cluster the pushed branch
// drives against the operator's allow-list, and queue a reconcile per allowed cluster.
import { bindCluster } from "../../config/operator-config.js";
import { clustersForBranch } from "../../config/repo-config.js";
import { QueueClosedError } from "../../queue/work-queue.js";
import { runStopped } from "../../reconcile/events.js";
import { fullName } from "../client.js";
import { loadRepoConfig } from "../repo-config-loader.js";
import { openReportStream } from "../reporters/index.js";
import { reportOptions } from "../reporters/options.js";
import { createFailedCheckRun, createQueuedCheckRun } from "../views/check-run.js";
import { setStatus, statusContext } from "../views/commit-status.js";
import { runMetadata } from "./reconcile-job.js";
import { notQueued } from "./refused-job.js";
import { type JobDeps, jobRepo, type PushJob } from "./types.js";

export async function runPushJob(job: PushJob, deps: JobDeps): Promise<void> {
  const github = await deps.github(job.installationId);
  const repo = jobRepo(job);
  const log = deps.log.child({ repo: fullName(repo), sha: job.sha, branch: job.branch });
  const loaded = await loadRepoConfig(github, repo, job.defaultBranch);
  if (loaded.kind === "absent") {
    log.info("no .github/gitops.yaml on the default branch; push ignored");
    return;
  }
  if (loaded.kind === "invalid") {
    log.warn({ err: loaded.error.message }, "invalid .github/gitops.yaml");
    await setStatus(github, repo, job.sha, {
      context: statusContext.config(),
      state: "failure",
      description: loaded.error.message,
    });
    await createFailedCheckRun(
      github,
      repo,
      job.sha,
      "gitops / config",
      `${loaded.error.file} is invalid`,
      loaded.error.problems
        .map(
          (p) =>
            `- \`${loaded.error.file}\`${p.line ? ` line ${p.line}` : ""}${p.field ? `, \`${p.field}\`` : ""}: ${p.message}`,
        )
        .join("\n"),
    );
    return;
  }
  if (job.branch === job.defaultBranch && deps.images && !job.onlyCluster) {
    // The default branch holds the image automations: re-read them after every push to it.
    await deps.queue.enqueue({
      key: `images:${fullName(repo)}`,
      supersedes: true,
      payload: { ...job, type: "images" },
    });
  }
  const clusters = clustersForBranch(loaded.config, job.branch, job.defaultBranch).filter(
    (c) => !job.onlyCluster || c.name === job.onlyCluster,
  );
  if (clusters.length === 0) {
    log.info("no cluster tracks this branch; push ignored");
    return;
  }
  const pendingStatuses = reportOptions(deps.operator).pendingStatuses;
  // Refusals are reported on the same stream as runs: the cluster's status and a completed check run.
  const refusals = openReportStream({ github, repo, sha: job.sha, log, kind: "push", pendingStatuses });
  try {
    for (const cluster of clusters) {
      const binding = bindCluster(deps.operator, cluster.name, fullName(repo));
      if (!binding.ok) {
        log.warn({ cluster: cluster.name }, binding.reason);
        refusals.emit(
          cluster.name,
          runStopped(
            {
              conclusion: "failure",
              message: `${binding.reason}; nothing applied`,
              detail: `${binding.reason}. Nothing was applied.\n\nThe operator of this gitops-bot lists, per cluster, the repositories that may target it (see the README, "Operator configuration").`,
            },
            runMetadata(job, cluster.name),
          ),
        );
        continue;
      }
      const checkRunId = await createQueuedCheckRun(github, repo, job.sha, cluster.name);
      try {
        // The check run says "queued"; a pending cluster status only when the operator asks for pending statuses.
        if (pendingStatuses) {
          await setStatus(github, repo, job.sha, {
            context: statusContext.cluster(cluster.name),
            state: "pending",
            description: "queued",
          });
        }
        await deps.queue.enqueue({
          key: `reconcile:${fullName(repo)}:${cluster.name}`,
          supersedes: true,
          payload: { ...job, type: "reconcile", cluster, checkRunId },
        });
      } catch (err) {
        // Not queued (the bot is shutting down, the queue refused it): say so rather than leave a check queued.
        const why = err instanceof QueueClosedError ? "gitops-bot was shutting down" : (err as Error).message;
        const stream = openReportStream({
          github,
          repo,
          sha: job.sha,
          log,
          kind: "push",
          checkRuns: { [cluster.name]: checkRunId },
          pendingStatuses,
        });
        stream.emit(cluster.name, notQueued(job, cluster.name, `not run: ${why}`));
        await stream.close();
        throw err;
      }
    }
  } finally {
    await refusals.close();
  }
}
