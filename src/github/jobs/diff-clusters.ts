// A pull request's dry-run that will not run (refused by the queue, or given up): one stop event per cluster the
// base branch drives, on the `gitops/diff/<cluster>` statuses, so that no required check waits forever.
import { clustersForBranch } from "../../config/repo-config.js";
import type { RunEvent } from "../../reconcile/events.js";
import { fullName } from "../client.js";
import { loadRepoConfig } from "../repo-config-loader.js";
import { openReportStream } from "../reporters/index.js";
import { type DiffJob, type JobDeps, jobRepo } from "./types.js";

/** Emits `stop(cluster)` for every cluster the base branch drives; nothing when the config cannot be read. */
export async function stopDiffOnEveryCluster(
  job: DiffJob,
  deps: JobDeps,
  stop: (cluster: string) => RunEvent,
): Promise<void> {
  const github = await deps.github(job.installationId);
  const repo = jobRepo(job);
  const loaded = await loadRepoConfig(github, repo, job.defaultBranch);
  if (loaded.kind !== "ok") return;
  const stream = openReportStream({
    github,
    repo,
    sha: job.headSha,
    log: deps.log.child({ repo: fullName(repo), pull: job.pullNumber }),
    kind: "pull-request",
    pendingStatuses: false,
  });
  for (const cluster of clustersForBranch(loaded.config, job.baseBranch, job.defaultBranch))
    stream.emit(cluster.name, stop(cluster.name));
  await stream.close();
}
