// Reconcile one cluster at one commit and report it: statuses per Kustomization and HelmRelease as they start
// and finish, the cluster's status and check run, and a GitHub deployment where the cluster names an
// environment. A commit that is no longer the branch head is not applied (deliveries can arrive out of order).
import { bindCluster } from "../../config/operator-config.js";
import type { KustomizationStatus, RunResult } from "../../reconcile/result.js";
import { defaultReconcileOptions, reconcileTree } from "../../reconcile/run.js";
import { fullName } from "../client.js";
import { fetchTree } from "../fetch-tree.js";
import { completeCheckRun, markCheckRunInProgress } from "../views/check-run.js";
import { checkRunReport } from "../views/check-run-report.js";
import { setStatus, statusContext } from "../views/commit-status.js";
import { createDeployment, setDeploymentState } from "../views/deployment.js";
import { helmReleaseLine, kustomizationLine, runLine } from "../views/summary-line.js";
import { engineOptions } from "./engine-options.js";
import { type JobDeps, jobRepo, type ReconcileJob, repositoryScope } from "./types.js";

/** Above this many Kustomizations and HelmReleases, no "reconciling" statuses: GitHub limits writes per minute. */
export const PENDING_STATUS_LIMIT = 20;

/** Status contexts name objects by name; by namespace/name where two of the same kind share a name. */
export function objectLabels(keys: string[]): Map<string, string> {
  const name = (key: string) => key.split("/").pop() ?? key;
  const count = new Map<string, number>();
  for (const k of keys) count.set(name(k), (count.get(name(k)) ?? 0) + 1);
  return new Map(keys.map((k) => [k, (count.get(name(k)) ?? 0) > 1 ? k : name(k)]));
}

function stateOf(status: KustomizationStatus): "success" | "failure" | "error" {
  if (status === "Ready" || status === "Suspended") return "success";
  return status === "DependencyNotReady" ? "error" : "failure";
}

export async function runReconcileJob(job: ReconcileJob, deps: JobDeps): Promise<RunResult | undefined> {
  const github = await deps.github(job.installationId);
  const repo = jobRepo(job);
  const log = deps.log.child({ repo: fullName(repo), sha: job.sha, cluster: job.cluster.name });
  const reported = { done: false };
  try {
    return await reconcileAndReport(job, deps, reported);
  } catch (err) {
    // Whatever broke (GitHub, the API server), the cluster's status and check run say so: never left pending.
    if (!reported.done) {
      const message = `reconcile failed: ${(err as Error).message}`;
      log.error({ err }, "reconcile failed");
      await setStatus(github, repo, job.sha, {
        context: statusContext.cluster(job.cluster.name),
        state: "error",
        description: message,
      }).catch((e) => log.warn({ err: e }, "cannot set the cluster status"));
      await completeCheckRun(github, repo, job.checkRunId, {
        title: `${job.cluster.name}: ${message}`.slice(0, 255),
        summary: `Not applied, or not completely: ${message}`,
        conclusion: "failure",
      }).catch((e) => log.warn({ err: e }, "cannot complete the check run"));
    }
    throw err;
  }
}

async function reconcileAndReport(
  job: ReconcileJob,
  deps: JobDeps,
  reported: { done: boolean },
): Promise<RunResult | undefined> {
  const github = await deps.github(job.installationId);
  const repo = jobRepo(job);
  const clusterName = job.cluster.name;
  const log = deps.log.child({ repo: fullName(repo), sha: job.sha, cluster: clusterName });
  await markCheckRunInProgress(github, repo, job.checkRunId);
  const finish = async (
    state: "error" | "failure",
    message: string,
    conclusion: "failure" | "skipped" = "failure",
  ) => {
    await setStatus(github, repo, job.sha, {
      context: statusContext.cluster(clusterName),
      state,
      description: message,
    });
    await completeCheckRun(github, repo, job.checkRunId, {
      title: `${clusterName}: ${message}`.slice(0, 255),
      summary: conclusion === "skipped" ? message : `Nothing was applied: ${message}`,
      conclusion,
    });
    reported.done = true;
  };
  const fail = async (message: string) => {
    log.error({ err: message }, "reconcile failed before the engine ran");
    await finish("error", message);
  };

  // The allow-list is checked again here: the operator's configuration may have changed while the job waited.
  const binding = bindCluster(deps.operator, clusterName, fullName(repo));
  if (!binding.ok) return void (await fail(binding.reason));
  let api: ReturnType<JobDeps["clusters"]["get"]>;
  try {
    api = deps.clusters.get(binding.cluster);
  } catch (err) {
    return void (await fail((err as Error).message));
  }
  const { data: head } = await github.rest.git.getRef({ ...repo, ref: `heads/${job.branch}` });
  if (head.object.sha !== job.sha) {
    const message = `superseded: ${job.branch} is at ${head.object.sha.slice(0, 7)} now; not applied`;
    log.info(message);
    return void (await finish("error", message, "skipped"));
  }
  let tree: Awaited<ReturnType<typeof fetchTree>>;
  try {
    tree = await fetchTree(github, repo, job.sha);
  } catch (err) {
    return void (await fail(
      `cannot fetch ${fullName(repo)}@${job.sha.slice(0, 7)}: ${(err as Error).message}`,
    ));
  }

  let deploymentId: number | undefined;
  let run: RunResult;
  const pending: Promise<void>[] = [];
  let labels = new Map<string, string>();
  let helmLabels = new Map<string, string>();
  let announce = false;
  try {
    deploymentId = job.cluster.environment
      ? await createDeployment(github, repo, job.sha, job.cluster.environment, clusterName)
      : undefined;
    if (deploymentId) await setDeploymentState(github, repo, deploymentId, "in_progress", "reconciling");
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
      onProgress: (event) => {
        if (event.type === "planned" && event.keys) {
          labels = objectLabels(event.keys.kustomizations);
          helmLabels = objectLabels(event.keys.helmReleases);
          announce =
            event.keys.kustomizations.length + event.keys.helmReleases.length <= PENDING_STATUS_LIMIT;
        }
        if (event.type !== "started" || !announce) return;
        const helm = event.kind === "HelmRelease";
        const label = (helm ? helmLabels : labels).get(event.kustomization) ?? event.kustomization;
        pending.push(
          setStatus(github, repo, job.sha, {
            context: helm
              ? statusContext.helmRelease(clusterName, label)
              : statusContext.kustomization(clusterName, label),
            state: "pending",
            description: "reconciling",
          }).catch((err) => log.warn({ err }, "cannot set pending status")),
        );
      },
    });
  } catch (err) {
    // Not a result: the engine itself broke (an unreadable inventory, the API server gone). Say so, never hang.
    log.error({ err }, "reconcile failed");
    await Promise.allSettled(pending);
    await finish("error", `reconcile failed: ${(err as Error).message}`);
    if (deploymentId) await setDeploymentState(github, repo, deploymentId, "error", (err as Error).message);
    return undefined;
  } finally {
    tree.cleanup();
  }
  await Promise.allSettled(pending);

  const keyOf = (o: { namespace: string; name: string }) => `${o.namespace}/${o.name}`;
  if (labels.size === 0) labels = objectLabels(run.kustomizations.map(keyOf));
  if (helmLabels.size === 0) helmLabels = objectLabels((run.helmReleases ?? []).map(keyOf));
  const report = checkRunReport(clusterName, job.sha, run);
  const ok = report.conclusion === "success";
  // Each write on its own: one refused status must not leave the rest of the report unwritten.
  const writes: [string, () => Promise<unknown>][] = [
    ...run.kustomizations.map((k): [string, () => Promise<unknown>] => [
      `status of ${keyOf(k)}`,
      () =>
        setStatus(github, repo, job.sha, {
          context: statusContext.kustomization(clusterName, labels.get(keyOf(k)) ?? k.name),
          state: stateOf(k.status),
          description: kustomizationLine(k),
        }),
    ]),
    ...(run.helmReleases ?? []).map((h): [string, () => Promise<unknown>] => [
      `status of HelmRelease ${keyOf(h)}`,
      () =>
        setStatus(github, repo, job.sha, {
          context: statusContext.helmRelease(clusterName, helmLabels.get(keyOf(h)) ?? h.name),
          state: stateOf(h.status),
          description: helmReleaseLine(h),
        }),
    ]),
    [
      "cluster status",
      () =>
        setStatus(github, repo, job.sha, {
          context: statusContext.cluster(clusterName),
          state: ok ? "success" : "failure",
          description: runLine(run),
        }),
    ],
    ["check run", () => completeCheckRun(github, repo, job.checkRunId, report)],
  ];
  if (deploymentId !== undefined) {
    const id = deploymentId;
    writes.push([
      "deployment",
      () => setDeploymentState(github, repo, id, ok ? "success" : "failure", runLine(run)),
    ]);
  }
  const failedWrites: string[] = [];
  // Each write is tried on its own below; a failure is reported by what did get written, not overwritten.
  reported.done = true;
  for (const [what, write] of writes) {
    try {
      await write();
    } catch (err) {
      failedWrites.push(what);
      log.warn({ err }, `cannot write ${what}`);
    }
  }
  log.info({ ok, durationMs: run.durationMs }, `cluster ${clusterName}: ${runLine(run)}`);
  if (failedWrites.length > 0) throw new Error(`GitHub refused: ${failedWrites.join(", ")}`);
  return run;
}
