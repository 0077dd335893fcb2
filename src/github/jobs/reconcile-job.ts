// Reconcile one cluster at one commit. The job only decides and runs; everything it reports (the cluster's
// status, per-object statuses, the check run, a deployment, log lines) is a reporter on the run's event stream
// (src/github/reporters). A commit that is no longer the branch head is not applied (deliveries can arrive out
// of order).
import type { RawObjectApi } from "../../cluster/kube-client.js";
import { bindCluster, type RepositoryGrant } from "../../config/operator-config.js";
import { ManifestError } from "../../flux/errors.js";
import { compileNotifications, readNotificationObjects } from "../../notify/index.js";
import { type EventMetadata, runStarted, runStopped } from "../../reconcile/events.js";
import type { TreePlan } from "../../reconcile/plan.js";
import type { RunResult } from "../../reconcile/result.js";
import { defaultReconcileOptions, type ReconcileOptions, reconcileTree } from "../../reconcile/run.js";
import { namespaceRefusal, tenantSecretReader } from "../../reconcile/tenancy.js";
import { sourcesToPoll } from "../../schedule/source-poll.js";
import { clusterSecretReader } from "../../source/credentials.js";
import { fullName } from "../client.js";
import { headOrder } from "../commit-order.js";
import { fetchTree } from "../fetch-tree.js";
import { reportInterrupted, SHUT_DOWN_BEFORE_RUN, SHUT_DOWN_DURING_RUN } from "../recovery/interrupted.js";
import { lifecycleOf } from "../recovery/lifecycle.js";
import {
  openReportStream,
  type ReportStream,
  type RunNotifications,
  runNotifications,
  WrittenReports,
} from "../reporters/index.js";
import { reportOptions } from "../reporters/options.js";
import { runLine } from "../views/summary-line.js";
import { engineOptions } from "./engine-options.js";
import { readPushedHead } from "./pushed-heads.js";
import { type JobDeps, jobRepo, type ReconcileJob, repositoryScope } from "./types.js";

export { PENDING_STATUS_LIMIT } from "../reporters/commit-status.js";

/** Revision, commit, cluster and repository of a run, on every event it emits. */
export function runMetadata(
  job: { owner: string; repo: string; sha: string; branch?: string },
  cluster: string,
): EventMetadata {
  return {
    revision: `${job.branch ? `${job.branch}@` : ""}sha1:${job.sha}`,
    commit: job.sha,
    cluster,
    repository: `${job.owner}/${job.repo}`,
  };
}

/** The report stream of a push's run of one cluster. */
export async function reconcileStream(
  job: ReconcileJob,
  deps: JobDeps,
  written?: WrittenReports,
): Promise<ReportStream> {
  const github = await deps.github(job.installationId);
  const repo = jobRepo(job);
  const cluster = job.cluster.name;
  return openReportStream(
    {
      github,
      repo,
      sha: job.sha,
      log: deps.log.child({ repo: fullName(repo), sha: job.sha, cluster }),
      kind: "push",
      checkRuns: { [cluster]: job.checkRunId },
      ...(job.cluster.environment ? { environments: { [cluster]: job.cluster.environment } } : {}),
      pendingStatuses: reportOptions(deps.operator).pendingStatuses,
      // A reconcile of the branch: its own Providers and Alerts, once its tree is planned (pull requests: never).
      ...(deps.notifier ? { notifications: runNotifications(deps.notifier) } : {}),
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
    },
    written ? { written } : {},
  );
}

export async function runReconcileJob(
  job: ReconcileJob,
  deps: JobDeps,
  written: WrittenReports = new WrittenReports(),
): Promise<RunResult | undefined> {
  const stream = await reconcileStream(job, deps, written);
  const cluster = job.cluster.name;
  const metadata = runMetadata(job, cluster);
  const lifecycle = lifecycleOf(deps);
  if (lifecycle.stopping) {
    // Handed back: the bot stops taking work. Reported so, and re-run at the next start (recovery/).
    await reportInterrupted(stream.target, { written }, job, cluster, SHUT_DOWN_BEFORE_RUN, metadata);
    return undefined;
  }
  const untrack = lifecycle.track(() =>
    reportInterrupted(stream.target, { written }, job, cluster, SHUT_DOWN_DURING_RUN, metadata),
  );
  try {
    return await reconcile(job, deps, stream, metadata);
  } catch (err) {
    // Whatever broke (GitHub, the API server), the cluster's status and check run say so: never left open.
    stream.target.log.error({ err }, "reconcile failed");
    if (!stream.hasEnded(cluster)) {
      stream.emit(
        cluster,
        runStopped(
          { conclusion: "failure", state: "error", message: `reconcile failed: ${(err as Error).message}` },
          metadata,
        ),
      );
    }
    throw err;
  } finally {
    untrack();
    await stream.close();
  }
}

async function reconcile(
  job: ReconcileJob,
  deps: JobDeps,
  stream: ReportStream,
  metadata: EventMetadata,
): Promise<RunResult | undefined> {
  const { github, repo, log } = stream.target;
  const clusterName = job.cluster.name;
  const emit = stream.sink(clusterName);
  emit(runStarted(false, job.cluster.path, metadata));
  // `superseded`: the branch head moved on, a skip and not a failure (no error state: a non-failing status).
  const stop = (message: string, why: "error" | "superseded" = "error") => {
    log.warn({ why }, `not reconciled: ${message}`);
    emit(
      runStopped(
        why === "superseded"
          ? { conclusion: "skipped", message }
          : { conclusion: "failure", state: "error", message },
        metadata,
      ),
    );
    return undefined;
  };

  // The allow-list is checked again here: the operator's configuration may have changed while the job waited.
  const binding = bindCluster(deps.operator, clusterName, fullName(repo));
  if (!binding.ok) return stop(binding.reason);
  let api: ReturnType<JobDeps["clusters"]["get"]>;
  try {
    api = deps.clusters.get(binding.cluster);
  } catch (err) {
    return stop((err as Error).message);
  }
  // Conditional: right after the push job's read of the same head it is a 304, free of the rate limit.
  const head = await readPushedHead(github, repo, job.branch);
  // A head read that lags the push (GitHub's read-after-write) is no newer commit: only one that is ahead is.
  if (head !== job.sha && (await headOrder(github, repo, job.sha, head)) === "ahead") {
    return stop(`superseded: ${job.branch} is at ${head.slice(0, 7)} now; not applied`, "superseded");
  }
  let tree: Awaited<ReturnType<typeof fetchTree>>;
  const fetchStarted = Date.now();
  const recordFetch = (ok: boolean) =>
    deps.metrics?.recordSourceFetch({
      cluster: clusterName,
      kind: "GitRepository",
      name: "flux-system",
      namespace: "flux-system",
      url: `https://${deps.githubHost}/${fullName(repo)}`,
      ...(metadata.revision ? { revision: metadata.revision } : {}),
      seconds: (Date.now() - fetchStarted) / 1000,
      ok,
    });
  try {
    tree = await fetchTree(github, repo, job.sha);
    recordFetch(true);
  } catch (err) {
    recordFetch(false);
    return stop(`cannot fetch ${fullName(repo)}@${job.sha.slice(0, 7)}: ${(err as Error).message}`);
  }

  let run: RunResult;
  try {
    const engine = engineOptions(deps, {
      grant: binding.grant,
      repository: fullName(repo),
      cluster: clusterName,
      untrusted: false,
    });
    const notifications = stream.target.notifications;
    const options = { ...defaultReconcileOptions(tree.dir, job.cluster.path), ...deps.engine };
    const schedule = deps.schedule;
    const planned = tree.dir;
    run = await reconcileTree(api, {
      ...options,
      scope: repositoryScope(deps, repo, job.cluster.path),
      log,
      ...deps.engine,
      ...engine,
      onEvent: emit,
      eventMetadata: metadata,
      onPlanned: onPlanned({
        schedule,
        target: schedule?.target(job),
        dir: planned,
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
  } catch (err) {
    // Not a result: the engine itself broke (an unreadable inventory, the API server gone). Say so, never hang.
    log.error({ err }, "reconcile failed");
    return stop(`reconcile failed: ${(err as Error).message}`);
  } finally {
    tree.cleanup();
  }
  log.info({ durationMs: run.durationMs }, `cluster ${clusterName}: ${runLine(run)}`);
  return run;
}

/**
 * The run's Providers and Alerts, from the planned tree of the branch being reconciled: parsed and checked
 * (errors name file, object and field, and go to the check run), Secrets read through the run's reader with the
 * tenancy policy, and a tenant's objects kept to the namespaces it may use.
 */
/**
 * What a run does once its tree is planned, push or schedule alike: the sources it uses get timers of their
 * own when it ends (GitHubSchedule.afterRun), and the branch's Providers and Alerts are read for its events.
 */
export function onPlanned(p: {
  schedule: JobDeps["schedule"];
  target: ReturnType<NonNullable<JobDeps["schedule"]>["target"]> | undefined;
  dir: string;
  options: Omit<Parameters<typeof sourcesToPoll>[1], "dir">;
  notifications: RunNotifications | undefined;
  run: Parameters<typeof collectNotifications>[2];
}): (plan: TreePlan) => void {
  return (plan) => {
    if (p.schedule && p.target)
      p.schedule.notePlannedSources(
        p.target,
        sourcesToPoll(plan, {
          dir: p.dir,
          selfSourceNames: p.options.selfSourceNames,
          limits: p.options.limits,
        }),
      );
    if (p.notifications) collectNotifications(p.notifications, plan, p.run);
  };
}

export function collectNotifications(
  into: RunNotifications,
  plan: TreePlan,
  run: {
    cluster: string;
    scope: string;
    api: RawObjectApi;
    grant: RepositoryGrant;
    tenancy: ReconcileOptions["tenancy"];
  },
): void {
  const read = readNotificationObjects(plan.notifications ?? []);
  const refused: ManifestError[] = [];
  const allowed = read.objects.filter((o) => {
    const why = namespaceRefusal(run.tenancy, o.namespace);
    if (why)
      refused.push(new ManifestError({ file: o.file, object: o.subject, field: "metadata.namespace" }, why));
    return !why;
  });
  const set = compileNotifications(allowed, {
    scope: run.scope,
    secrets: tenantSecretReader(clusterSecretReader(run.api), run.tenancy),
    crossNamespaceRefs: run.grant.crossNamespaceRefs,
  });
  into.sets.set(run.cluster, { ...set, errors: [...read.errors, ...refused, ...set.errors] });
  into.objects.set(run.cluster, plan.objectMetadata ?? new Map());
}
