// Reconcile one cluster at one commit. The job only decides and runs; everything it reports (the cluster's
// status, per-object statuses, the check run, a deployment, log lines) is a reporter on the run's event stream
// (src/github/reporters). A commit that is no longer the branch head is not applied (deliveries can arrive out
// of order).
import { bindCluster } from "../../config/operator-config.js";
import { type EventMetadata, runStarted, runStopped } from "../../reconcile/events.js";
import type { RunResult } from "../../reconcile/result.js";
import { defaultReconcileOptions, reconcileTree } from "../../reconcile/run.js";
import { fullName } from "../client.js";
import { fetchTree } from "../fetch-tree.js";
import { openReportStream, type ReportStream, WrittenReports } from "../reporters/index.js";
import { reportOptions } from "../reporters/options.js";
import { runLine } from "../views/summary-line.js";
import { engineOptions } from "./engine-options.js";
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
  const stop = (message: string, conclusion: "failure" | "skipped" = "failure") => {
    log.warn({ conclusion }, `not reconciled: ${message}`);
    emit(runStopped({ conclusion, state: "error", message }, metadata));
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
  const { data: head } = await github.rest.git.getRef({ ...repo, ref: `heads/${job.branch}` });
  if (head.object.sha !== job.sha) {
    return stop(`superseded: ${job.branch} is at ${head.object.sha.slice(0, 7)} now; not applied`, "skipped");
  }
  let tree: Awaited<ReturnType<typeof fetchTree>>;
  try {
    tree = await fetchTree(github, repo, job.sha);
  } catch (err) {
    return stop(`cannot fetch ${fullName(repo)}@${job.sha.slice(0, 7)}: ${(err as Error).message}`);
  }

  let run: RunResult;
  try {
    run = await reconcileTree(api, {
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
      onEvent: emit,
      eventMetadata: metadata,
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
