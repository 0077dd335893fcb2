// A periodic reconcile of one cluster from its branch head. Made to be cheap when nothing changed: the head is
// read with a conditional request (a 304 is free), the tree fetched at that head last time is reused, the
// engine's fast path skips dry-runs of objects whose fingerprints still match, and GitHub hears about the run
// only when its revision or outcome changed, it changed something in the cluster (drift corrected, a new chart
// version, a new source revision) or it failed. Otherwise its events go to the log and metrics only. Alerts hear
// what Flux's controllers would send between commits: what changed (drift corrected, an upgrade, a new source
// revision applied) and what failed; a quiet run sends nothing.
import type { Logger } from "pino";
import { listInventories } from "../../cluster/ssa/inventory.js";
import { bindCluster } from "../../config/operator-config.js";
import { clustersForBranch } from "../../config/repo-config.js";
import { type ObjectResult, type RunEvent, runStarted } from "../../reconcile/events.js";
import { inventoryScopes } from "../../reconcile/inventory-scopes.js";
import { type RunResult, runHasChanges, runSucceeded } from "../../reconcile/result.js";
import { defaultReconcileOptions, reconcileTree } from "../../reconcile/run.js";
import { tenantSecretReader } from "../../reconcile/tenancy.js";
import { type SourcePoll, sourceRevisionNow } from "../../schedule/source-poll.js";
import { defaultCacheDir } from "../../source/cache.js";
import { clusterSecretReader } from "../../source/credentials.js";
import { fullName } from "../client.js";
import type { InstalledRepository } from "../discover-repositories.js";
import { fetchTree } from "../fetch-tree.js";
import { loadRepoConfig } from "../repo-config-loader.js";
import {
  openReportStream,
  REPORTERS,
  type ReporterId,
  type ReportTarget,
  runNotifications,
  type WrittenReports,
} from "../reporters/index.js";
import { type GitHubSchedule, runOutcome, type ScheduledTarget } from "../schedule.js";
import { CHECK_RUN_NOT_CREATED } from "../views/check-run.js";
import { runLine } from "../views/summary-line.js";
import { engineOptions } from "./engine-options.js";
import { onPlanned, runMetadata } from "./reconcile-job.js";
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
  // A source's own timer: only a new revision reconciles (a check reads that source, nothing else).
  if (job.source && !(await sourceMoved(job, job.source, deps, schedule, target, log)))
    return { reported: false };
  schedule.schedule.started(target.key);
  try {
    return await scheduledRun(job, deps, schedule, target, log, written);
  } finally {
    schedule.schedule.finished(target.key);
  }
}

/**
 * Whether the polled source serves another revision than the one last seen (then recorded). No GitHub request:
 * the source is fetched with the cluster's Secrets as the repository may read them, within the run's bounds; an
 * unchanged Git commit, OCI digest or Helm index costs one request to the source and a cache hit.
 */
async function sourceMoved(
  job: ScheduledJob,
  poll: SourcePoll,
  deps: JobDeps,
  schedule: GitHubSchedule,
  target: ScheduledTarget,
  log: Logger,
): Promise<boolean> {
  const binding = bindCluster(deps.operator, job.cluster.name, fullName(jobRepo(job)));
  if (!binding.ok) return false;
  const engine = engineOptions(deps, {
    grant: binding.grant,
    repository: fullName(jobRepo(job)),
    cluster: job.cluster.name,
    untrusted: false,
  });
  let revision: string;
  try {
    const api = deps.clusters.get(binding.cluster);
    revision = await sourceRevisionNow(poll, {
      cacheDir: deps.engine?.cacheDir ?? defaultCacheDir(),
      secrets: tenantSecretReader(clusterSecretReader(api), engine.tenancy),
      ...(engine.maxSourceTimeoutMs !== undefined ? { maxTimeoutMs: engine.maxSourceTimeoutMs } : {}),
      ...(engine.outbound ? { outbound: engine.outbound } : {}),
    });
  } catch (err) {
    // As source-controller: the dependents keep what they have; the next poll tries again.
    schedule.sourceChecks.failed++;
    log.warn({ err, source: poll.subject }, `${poll.subject}: cannot check its revision`);
    return false;
  }
  const known = schedule.sourceRevision(target, poll.subject) ?? poll.revision;
  if (revision === known) {
    schedule.sourceChecks.unchanged++;
    log.debug({ source: poll.subject, revision }, "source unchanged");
    return false;
  }
  schedule.sourceChecks.changed++;
  schedule.recordSourceRevision(target, poll.subject, revision);
  log.info(
    { source: poll.subject, revision, previous: known, dependents: poll.dependents },
    `${poll.subject} has a new revision; reconciling what uses it`,
  );
  return true;
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
  const engine = engineOptions(deps, {
    grant: binding.grant,
    repository: fullName(repo),
    cluster: clusterName,
    untrusted: false,
  });
  // The branch's own Providers and Alerts, read from the planned tree as a push's run reads them.
  const notifications = deps.notifier ? runNotifications(deps.notifier) : undefined;
  const options = { ...defaultReconcileOptions(tree.dir, job.cluster.path), ...deps.engine };
  const run = await reconcileTree(api, {
    ...options,
    scope: repositoryScope(deps, repo, job.cluster.path),
    log,
    ...deps.engine,
    ...engine,
    onEvent: (event) => events.push(event),
    eventMetadata: metadata,
    trigger: "schedule",
    ...(last ? { gitChanged: last.sha !== head.sha } : {}),
    onPlanned: onPlanned({
      schedule,
      target,
      dir: tree.dir,
      options,
      notifications,
      run: {
        cluster: clusterName,
        scope: `${fullName(repo)}:${clusterName}`,
        api,
        grant: binding.grant,
        tenancy: engine.tenancy,
      },
    }),
  });
  const changed = !last || last.sha !== head.sha || last.outcome !== runOutcome(run);
  const failed = !runSucceeded(run);
  const reported = changed || failed || runHasChanges(run);
  const reportTarget: ReportTarget = {
    github,
    repo,
    sha: head.sha,
    log,
    kind: "push",
    checkRuns: { [clusterName]: CHECK_RUN_NOT_CREATED },
    pendingStatuses: false,
    ...(notifications ? { notifications } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  };
  // Notifications go through a stream of their own, which hears only what is worth an alert (below).
  const others = (Object.keys(REPORTERS) as ReporterId[]).filter((id) => id !== "notification");
  const stream = openReportStream(
    reportTarget,
    // A quiet run still tells the drift reporter, which closes an open drift issue when the drift is gone
    // (and writes nothing when there was none).
    { ...(written ? { written } : {}), only: reported ? others : ["log", "metrics", "drift-issue"] },
  );
  for (const event of events) stream.emit(clusterName, event);
  const alerts =
    reported && notifications ? openReportStream(reportTarget, { only: ["notification"] }) : undefined;
  if (alerts) for (const event of events) if (worthAnAlert(event)) alerts.emit(clusterName, event);
  await Promise.all([stream.close(), alerts?.close()]);
  await schedule.afterRun(target, head.sha, run);
  log.info(
    { due: job.due, durationMs: run.durationMs, reported, headNotModified: head.notModified },
    `scheduled reconcile of ${clusterName}: ${runLine(run)}`,
  );
  return { run, reported, sha: head.sha };
}

/**
 * What a scheduled run tells Alerts, as Flux's controllers do between commits: an object that changed something
 * (created, configured or deleted objects — drift corrected —, a Helm install, upgrade or rollback), an object
 * that failed, drift found, and a run that failed as a whole. An object reconciled with nothing to do sends
 * nothing (Flux emits no event for it; its commit-status event goes to Git providers only).
 */
export function worthAnAlert(event: RunEvent): boolean {
  switch (event.type) {
    case "object-finished":
      return event.event.severity === "error" || objectChanged(event.outcome);
    case "notice":
      return true;
    case "run-finished":
      return event.result.errors.length > 0;
    case "run-stopped":
      return event.conclusion === "failure";
    default:
      return false;
  }
}

function objectChanged(outcome: ObjectResult): boolean {
  const r = outcome.result;
  if (r.status !== "Ready") return false;
  const applied = r.changes.some(
    (c) => c.action === "created" || c.action === "configured" || c.action === "deleted",
  );
  if (outcome.kind === "HelmRelease")
    return applied || (outcome.result.action !== "unchanged" && outcome.result.action !== "none");
  return applied;
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
