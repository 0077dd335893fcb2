// A pull request's dry-run: the PR head, server-side dry-run against every cluster its base branch drives,
// rendered into the PR's one diff comment, with a gitops/diff/<cluster> status per cluster to gate the merge.
// The PR's code is only read (kustomize build of its files); nothing from it is executed or applied.
import { bindCluster } from "../../config/operator-config.js";
import { clustersForBranch, type RepoConfig } from "../../config/repo-config.js";
import { type RunResult, runSucceeded } from "../../reconcile/result.js";
import { defaultReconcileOptions, reconcileTree } from "../../reconcile/run.js";
import { fullName } from "../client.js";
import { fetchTree } from "../fetch-tree.js";
import { loadRepoConfig } from "../repo-config-loader.js";
import { setStatus, statusContext } from "../views/commit-status.js";
import { upsertDiffComment } from "../views/pr-comment.js";
import { type ClusterDiff, diffComment } from "../views/pr-comment-report.js";
import { runLine } from "../views/summary-line.js";
import { engineOptions } from "./engine-options.js";
import type { DiffJob, JobDeps } from "./types.js";
import { jobRepo, repositoryScope } from "./types.js";

export function diffVerdict(
  run: RunResult,
  failOnPrune: boolean,
): { state: "success" | "failure"; description: string } {
  if (!runSucceeded(run)) return { state: "failure", description: runLine(run) };
  const all = [
    ...run.kustomizations.flatMap((k) => k.changes),
    ...(run.helmReleases ?? []).flatMap((h) => h.changes),
  ];
  const count = (a: string) => all.filter((c) => c.action === a).length;
  const prunes = count("deleted");
  if (failOnPrune && prunes > 0) {
    return {
      state: "failure",
      description: `would prune ${prunes} object(s); pruning is gated in .github/gitops.yaml`,
    };
  }
  const releases = (run.helmReleases ?? []).filter(
    (h) => h.action !== "unchanged" && h.action !== "none",
  ).length;
  return {
    state: "success",
    description: `would create ${count("created")}, change ${count("configured")}, prune ${prunes}${releases ? `; ${releases} Helm release(s) would change` : ""}`,
  };
}

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
  for (const c of clusters) {
    await setStatus(github, repo, job.headSha, {
      context: statusContext.diff(c.name),
      state: "success",
      description: why,
    });
  }
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
  for (const c of clusters) {
    await setStatus(github, repo, job.headSha, {
      context: statusContext.diff(c.name),
      state: "pending",
      description: "dry-run in progress",
    });
  }

  // From here on, whatever fails ends in these statuses: a required check must never stay pending.
  const final = new Set<string>();
  try {
    await diffAndReport(job, deps, loaded.config, clusters, final);
  } catch (err) {
    log.error({ err }, "pull request dry-run failed");
    const description = `dry-run failed: ${(err as Error).message}`;
    for (const c of clusters.filter((c) => !final.has(c.name))) {
      await setStatus(github, repo, job.headSha, {
        context: statusContext.diff(c.name),
        state: "error",
        description,
      }).catch((e) => log.warn({ err: e }, "cannot set the dry-run status"));
    }
    throw err;
  }
}

async function diffAndReport(
  job: DiffJob,
  deps: JobDeps,
  config: RepoConfig,
  clusters: ReturnType<typeof clustersForBranch>,
  final: Set<string>,
): Promise<void> {
  const github = await deps.github(job.installationId);
  const repo = jobRepo(job);
  const log = deps.log.child({ repo: fullName(repo), pull: job.pullNumber, sha: job.headSha });
  const results: ClusterDiff[] = [];
  let tree: Awaited<ReturnType<typeof fetchTree>> | undefined;
  try {
    tree = await fetchTree(github, repo, job.headSha);
    for (const cluster of clusters) {
      const binding = bindCluster(deps.operator, cluster.name, fullName(repo));
      if (!binding.ok) {
        results.push({ cluster: cluster.name, error: binding.reason });
        continue;
      }
      try {
        const run = await reconcileTree(deps.clusters.get(binding.cluster), {
          ...defaultReconcileOptions(tree.dir, cluster.path),
          scope: repositoryScope(deps, repo, cluster.path),
          log: log.child({ cluster: cluster.name }),
          ...deps.engine,
          // A fork's author may not read this cluster's Secrets, nor make the bot fetch remote kustomize
          // resources: `untrusted` (the bot must not do either on their behalf).
          ...engineOptions(deps, {
            grant: binding.grant,
            repository: fullName(repo),
            cluster: cluster.name,
            untrusted: job.fork,
          }),
          dryRun: true,
          withDiff: true,
        });
        results.push({ cluster: cluster.name, run });
      } catch (err) {
        results.push({ cluster: cluster.name, error: (err as Error).message });
      }
    }
  } catch (err) {
    const message = `cannot fetch ${fullName(repo)}@${job.headSha.slice(0, 7)}: ${(err as Error).message}`;
    for (const c of clusters) results.push({ cluster: c.name, error: message });
  } finally {
    tree?.cleanup();
  }

  for (const r of results) {
    const verdict = r.run
      ? diffVerdict(r.run, config.pullRequests.failOnPrune)
      : { state: "failure" as const, description: r.error ?? "not diffed" };
    await setStatus(github, repo, job.headSha, { context: statusContext.diff(r.cluster), ...verdict });
    final.add(r.cluster);
  }
  const body = diffComment({ baseSha: job.baseSha, headSha: job.headSha, clusters: results });
  const comment = await upsertDiffComment(github, repo, job.pullNumber, body);
  log.info(
    { comment: comment.id, created: comment.created, length: body.length },
    "dry-run diff comment written",
  );
}
