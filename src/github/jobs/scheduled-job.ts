// A periodic reconcile of one cluster from its branch head. Made to be cheap when nothing changed: the head is
// read with a conditional request (a 304 is free), the tree fetched at that head last time is reused, the
// engine's fast path skips dry-runs of objects whose fingerprints still match, and GitHub hears about the run
// only when its revision or outcome changed, it changed something in the cluster (drift corrected, a new chart
// version, a new source revision) or it failed. Otherwise its events go to the log and metrics only.
import type { Logger } from "pino";
import { listInventories } from "../../cluster/ssa/inventory.js";
import { bindCluster } from "../../config/operator-config.js";
import { clustersForBranch } from "../../config/repo-config.js";
import { type RunEvent, runStarted } from "../../reconcile/events.js";
import { inventoryScopes } from "../../reconcile/inventory-scopes.js";
import { type RunResult, runHasChanges, runSucceeded } from "../../reconcile/result.js";
import { defaultReconcileOptions, reconcileTree } from "../../reconcile/run.js";
import { fullName } from "../client.js";
import type { InstalledRepository } from "../discover-repositories.js";
import { fetchTree } from "../fetch-tree.js";
import { loadRepoConfig } from "../repo-config-loader.js";
import { openReportStream, type WrittenReports } from "../reporters/index.js";
import { type GitHubSchedule, runOutcome, type ScheduledTarget } from "../schedule.js";
import { CHECK_RUN_NOT_CREATED } from "../views/check-run.js";
import { runLine } from "../views/summary-line.js";
import { engineOptions } from "./engine-options.js";
import { runMetadata } from "./reconcile-job.js";
import { type JobDeps, jobRepo, repositoryScope, type ScheduledJob } from "./types.js";

export interface ScheduledRunReport {
  run?: RunResult;
  /** Whether the run's reports went to GitHub (statuses, check run) or only to the log and metrics. */
  reported: boolean;
  sha?: string;
}

export async function runScheduledJob(
  job: ScheduledJob,
  deps: JobDeps,
  written?: WrittenReports,
): Promise<ScheduledRunReport> {
  const schedule = deps.schedule;
  const repo = jobRepo(job);
  const clusterName = job.cluster.name;
  const log = deps.log.child({
    repo: fullName(repo),
    branch: job.branch,
    cluster: clusterName,
    trigger: "schedule",
  });
  if (!schedule) return { reported: false };
  const target = schedule.target(job);
  schedule.schedule.started(target.key);
  try {
    return await scheduledRun(job, deps, schedule, target, log, written);
  } finally {
    schedule.schedule.finished(target.key);
  }
}

async function scheduledRun(
  job: ScheduledJob,
  deps: JobDeps,
  schedule: GitHubSchedule,
  target: ScheduledTarget,
  log: Logger,
  written: WrittenReports | undefined,
): Promise<ScheduledRunReport> {
  const repo = jobRepo(job);
  const clusterName = job.cluster.name;

  const binding = bindCluster(deps.operator, clusterName, fullName(repo));
  if (!binding.ok) {
    // The operator took the cluster away: nothing more is scheduled for it until a push binds it again.
    log.info(binding.reason);
    await schedule.schedule.forget(target.key);
    return { reported: false };
  }
  const api = deps.clusters.get(binding.cluster);
  const github = await deps.github(job.installationId);
  const head = await schedule.heads.read(github, repo, job.branch);
  const last = schedule.lastRun(target);
  if (!last || last.sha !== head.sha) {
    // Something moved since this process last ran the target (or it never did): the repository may have dropped
    // the cluster or changed its path. A counted request, but only then.
    const loaded = await loadRepoConfig(github, repo, job.defaultBranch);
    const current =
      loaded.kind === "ok"
        ? clustersForBranch(loaded.config, job.branch, job.defaultBranch).find((c) => c.name === clusterName)
        : undefined;
    if (!current || current.path !== job.cluster.path) {
      log.info("the repository no longer binds this cluster at this path; its schedule is dropped");
      await schedule.schedule.forget(target.key);
      return { reported: false, sha: head.sha };
    }
  }
  let tree = schedule.cachedTree(target, head.sha);
  if (!tree) {
    tree = await fetchTree(github, repo, head.sha);
    schedule.keepTree(target, head.sha, tree);
  }
  const metadata = runMetadata({ ...job, sha: head.sha }, clusterName);
  // Held until the run ends: only then is it known whether GitHub should hear about it.
  const events: RunEvent[] = [runStarted(false, job.cluster.path, metadata)];
  const run = await reconcileTree(api, {
    ...defaultReconcileOptions(tree.dir, job.cluster.path),
    scope: repositoryScope(deps, repo, job.cluster.path),
    log,
    ...deps.engine,
    ...engineOptions(deps, {
      grant: binding.grant,
      repository: fullName(repo),
      cluster: clusterName,
      untrusted: false,
    }),
    onEvent: (event) => events.push(event),
    eventMetadata: metadata,
    trigger: "schedule",
    ...(last ? { gitChanged: last.sha !== head.sha } : {}),
  });
  const changed = !last || last.sha !== head.sha || last.outcome !== runOutcome(run);
  const failed = !runSucceeded(run);
  const reported = changed || failed || runHasChanges(run);
  const stream = openReportStream(
    {
      github,
      repo,
      sha: head.sha,
      log,
      kind: "push",
      checkRuns: { [clusterName]: CHECK_RUN_NOT_CREATED },
      pendingStatuses: false,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
    },
    // A quiet run still tells the drift reporter, which closes an open drift issue when the drift is gone
    // (and writes nothing when there was none).
    { ...(written ? { written } : {}), ...(reported ? {} : { only: ["log", "metrics", "drift-issue"] }) },
  );
  for (const event of events) stream.emit(clusterName, event);
  await stream.close();
  await schedule.afterRun(target, head.sha, run);
  log.info(
    { due: job.due, durationMs: run.durationMs, reported, headNotModified: head.notModified },
    `scheduled reconcile of ${clusterName}: ${runLine(run)}`,
  );
  return { run, reported, sha: head.sha };
}

/**
 * At start-up, one repository: every cluster its `.github/gitops.yaml` binds (and the operator allows) gets a
 * timer for each Kustomization its inventories there hold, unless the Timers already have one. Returns how
 * many timers were set. One GitHub request (the config file) per repository.
 */
export async function restoreRepositorySchedule(
  repository: { installationId: number; owner: string; repo: string; defaultBranch: string },
  deps: JobDeps,
): Promise<number> {
  const schedule = deps.schedule;
  if (!schedule) return 0;
  const github = await deps.github(repository.installationId);
  const repo = jobRepo(repository);
  const loaded = await loadRepoConfig(github, repo, repository.defaultBranch);
  if (loaded.kind !== "ok") return 0;
  const objects: Parameters<typeof schedule.schedule.restore>[0] = [];
  for (const cluster of loaded.config.clusters) {
    const binding = bindCluster(deps.operator, cluster.name, fullName(repo));
    if (!binding.ok) continue;
    try {
      const api = deps.clusters.get(binding.cluster);
      const inventories = await listInventories(api, repositoryScope(deps, repo, cluster.path));
      if (inventories.length === 0) continue;
      objects.push({
        target: schedule.target({
          ...repository,
          branch: cluster.branch ?? repository.defaultBranch,
          cluster,
        }),
        subjects: inventories.map((inv) => `Kustomization/${inv.owner.namespace}/${inv.owner.name}`),
      });
    } catch (err) {
      deps.log.warn(
        { err, repo: fullName(repo), cluster: cluster.name },
        "cannot read inventories to restore the schedule",
      );
    }
  }
  return schedule.schedule.restore(objects);
}

/**
 * At start-up: the repositories whose scope has inventories in one of the operator's clusters (one LIST per
 * cluster, no GitHub request) get their timers back (restoreRepositorySchedule: one request each). Returns how
 * many timers were set.
 */
export async function restoreSchedule(repositories: InstalledRepository[], deps: JobDeps): Promise<number> {
  const scopes: string[] = [];
  for (const cluster of deps.operator.clusters) {
    try {
      scopes.push(...(await inventoryScopes(deps.clusters.get(cluster))));
    } catch (err) {
      deps.log.warn({ err, cluster: cluster.name }, "cannot list inventories to restore the schedule");
    }
  }
  let timers = 0;
  for (const r of repositories) {
    const identity = `${deps.githubHost}/${r.owner}/${r.repo}:`.toLowerCase();
    if (!scopes.some((scope) => scope.startsWith(identity))) continue;
    try {
      timers += await restoreRepositorySchedule(r, deps);
    } catch (err) {
      deps.log.warn({ err, repo: `${r.owner}/${r.repo}` }, "cannot restore the schedule of a repository");
    }
  }
  return timers;
}
