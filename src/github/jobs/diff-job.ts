// A pull request's dry-run: the PR head, server-side dry-run against every cluster its base branch drives,
// rendered into the PR's one diff comment, with a gitops/diff/<cluster> status per cluster to gate the merge.
// The PR's code is only read (kustomize build of its files); nothing from it is executed or applied.
import { bindCluster } from "../../config/operator-config.js";
import { clustersForBranch, type RepoConfig } from "../../config/repo-config.js";
import { runStarted, runStopped } from "../../reconcile/events.js";
import { defaultReconcileOptions, reconcileTree } from "../../reconcile/run.js";
import { fullName } from "../client.js";
import { fetchTree } from "../fetch-tree.js";
import { loadRepoConfig } from "../repo-config-loader.js";
import { openReportStream, type ReportStream } from "../reporters/index.js";
import { setStatus, statusContext } from "../views/commit-status.js";
import { engineOptions } from "./engine-options.js";
import { runMetadata } from "./reconcile-job.js";
import type { DiffJob, JobDeps } from "./types.js";
import { jobRepo, repositoryScope } from "./types.js";

export { diffVerdict } from "../views/diff-verdict.js";

/** A success status per cluster the base branch drives, saying why there is no diff. */
async function skipDiffStatuses(
  deps: JobDeps,
  job: DiffJob,
  why: string,
  config?: RepoConfig,
): Promise<void> {
  const github = await deps.github(job.installationId);
  const repo = jobRepo(job);
  let clusters = config ? clustersForBranch(config, job.baseBranch, job.defaultBranch) : undefined;
  if (!clusters) {
    const loaded = await loadRepoConfig(github, repo, job.defaultBranch);
    clusters =
      loaded.kind === "ok" ? clustersForBranch(loaded.config, job.baseBranch, job.defaultBranch) : [];
  }
  const stream = diffStream(job, deps, github, config?.pullRequests.failOnPrune ?? false);
  for (const c of clusters)
    stream.emit(c.name, runStopped({ conclusion: "skipped", message: why }, metadataOf(job, c.name)));
  await stream.close();
}

function diffStream(
  job: DiffJob,
  deps: JobDeps,
  github: Awaited<ReturnType<JobDeps["github"]>>,
  failOnPrune: boolean,
): ReportStream {
  const repo = jobRepo(job);
  return openReportStream({
    github,
    repo,
    sha: job.headSha,
    log: deps.log.child({ repo: fullName(repo), pull: job.pullNumber, sha: job.headSha }),
    kind: "pull-request",
    pullRequest: { number: job.pullNumber, baseSha: job.baseSha, failOnPrune },
    pendingStatuses: false,
    // No notifications: a pull request's Providers and Alerts are never used, and a dry-run sends nothing.
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
}

function metadataOf(job: DiffJob, cluster: string) {
  return runMetadata({ owner: job.owner, repo: job.repo, sha: job.headSha }, cluster);
}

export async function runDiffJob(job: DiffJob, deps: JobDeps): Promise<void> {
  const github = await deps.github(job.installationId);
  const repo = jobRepo(job);
  const log = deps.log.child({ repo: fullName(repo), pull: job.pullNumber, sha: job.headSha });
  if (job.fork && !deps.operator.pullRequests.forks) {
    log.info("pull request from a fork; fork diffs are disabled by the operator");
    // Still say so on the PR: a required gitops/diff/* check must not wait forever.
    await skipDiffStatuses(deps, job, "not diffed: pull requests from forks are not diffed on this server");
    return;
  }
  const loaded = await loadRepoConfig(github, repo, job.defaultBranch);
  if (loaded.kind === "absent") return;
  if (loaded.kind === "invalid") {
    await setStatus(github, repo, job.headSha, {
      context: statusContext.config(),
      state: "failure",
      description: loaded.error.message,
    });
    return;
  }
  if (!loaded.config.pullRequests.diff) {
    await skipDiffStatuses(
      deps,
      job,
      "not diffed: pullRequests.diff is off in .github/gitops.yaml",
      loaded.config,
    );
    return;
  }
  const clusters = clustersForBranch(loaded.config, job.baseBranch, job.defaultBranch);
  if (clusters.length === 0) {
    log.info("no cluster tracks the base branch; no diff");
    return;
  }
  const stream = diffStream(job, deps, github, loaded.config.pullRequests.failOnPrune);
  for (const c of clusters) stream.emit(c.name, runStarted(true, c.path, metadataOf(job, c.name)));
  // From here on, whatever fails ends in these statuses: a required check must never stay pending.
  try {
    await diffClusters(job, deps, clusters, stream);
  } catch (err) {
    log.error({ err }, "pull request dry-run failed");
    const message = `dry-run failed: ${(err as Error).message}`;
    for (const c of stream.unfinished()) {
      stream.emit(c, runStopped({ conclusion: "failure", state: "error", message }, metadataOf(job, c)));
    }
    throw err;
  } finally {
    await stream.close();
  }
}

async function diffClusters(
  job: DiffJob,
  deps: JobDeps,
  clusters: ReturnType<typeof clustersForBranch>,
  stream: ReportStream,
): Promise<void> {
  const { github, repo, log } = stream.target;
  let tree: Awaited<ReturnType<typeof fetchTree>>;
  try {
    tree = await fetchTree(github, repo, job.headSha);
  } catch (err) {
    const message = `cannot fetch ${fullName(repo)}@${job.headSha.slice(0, 7)}: ${(err as Error).message}`;
    for (const c of clusters)
      stream.emit(c.name, runStopped({ conclusion: "failure", message }, metadataOf(job, c.name)));
    return;
  }
  try {
    for (const cluster of clusters) {
      const metadata = metadataOf(job, cluster.name);
      const binding = bindCluster(deps.operator, cluster.name, fullName(repo));
      if (!binding.ok) {
        stream.emit(cluster.name, runStopped({ conclusion: "failure", message: binding.reason }, metadata));
        continue;
      }
      try {
        await reconcileTree(deps.clusters.get(binding.cluster), {
          ...defaultReconcileOptions(tree.dir, cluster.path),
          scope: repositoryScope(deps, repo, cluster.path),
          log: log.child({ cluster: cluster.name }),
          ...deps.engine,
          // A fork's author may not read this cluster's Secrets, nor make the bot fetch remote kustomize
          // resources: \`untrusted\` (the bot must not do either on their behalf).
          ...engineOptions(deps, {
            grant: binding.grant,
            repository: fullName(repo),
            cluster: cluster.name,
            untrusted: job.fork,
          }),
          dryRun: true,
          withDiff: true,
          onEvent: stream.sink(cluster.name),
          eventMetadata: metadata,
        });
      } catch (err) {
        stream.emit(
          cluster.name,
          runStopped({ conclusion: "failure", message: (err as Error).message }, metadata),
        );
      }
    }
  } finally {
    tree.cleanup();
  }
}
