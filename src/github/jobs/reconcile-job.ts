// Reconcile one cluster at one commit and report it: statuses per Kustomization as they start and finish, the
// cluster's status and check run, and a GitHub deployment where the cluster names an environment.
import { bindCluster } from "../../config/operator-config.js";
import type { KustomizationResult, RunResult } from "../../reconcile/result.js";
import { defaultReconcileOptions, reconcileTree } from "../../reconcile/run.js";
import { inventoryScope } from "../../reconcile/scope.js";
import { fullName } from "../client.js";
import { fetchTree } from "../fetch-tree.js";
import { completeCheckRun, markCheckRunInProgress } from "../views/check-run.js";
import { checkRunReport } from "../views/check-run-report.js";
import { setStatus, statusContext } from "../views/commit-status.js";
import { createDeployment, setDeploymentState } from "../views/deployment.js";
import { helmReleaseLine, kustomizationLine, runLine } from "../views/summary-line.js";
import { type JobDeps, jobRepo, type ReconcileJob } from "./types.js";

/** Status contexts name Kustomizations by name; by namespace/name only where two share a name. */
export function kustomizationLabel(k: { name: string; namespace: string }, all: { name: string }[]): string {
  return all.filter((o) => o.name === k.name).length > 1 ? `${k.namespace}/${k.name}` : k.name;
}

function stateOf(k: KustomizationResult): "success" | "failure" | "error" {
  if (k.status === "Ready" || k.status === "Suspended") return "success";
  return k.status === "DependencyNotReady" ? "error" : "failure";
}

export async function runReconcileJob(job: ReconcileJob, deps: JobDeps): Promise<RunResult | undefined> {
  const github = await deps.github(job.installationId);
  const repo = jobRepo(job);
  const clusterName = job.cluster.name;
  const log = deps.log.child({ repo: fullName(repo), sha: job.sha, cluster: clusterName });
  await markCheckRunInProgress(github, repo, job.checkRunId);
  const fail = async (message: string) => {
    log.error({ err: message }, "reconcile failed before the engine ran");
    await setStatus(github, repo, job.sha, {
      context: statusContext.cluster(clusterName),
      state: "error",
      description: message,
    });
    await completeCheckRun(github, repo, job.checkRunId, {
      title: `${clusterName}: ${message}`.slice(0, 255),
      summary: `Nothing was applied: ${message}`,
      conclusion: "failure",
    });
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
  let tree: Awaited<ReturnType<typeof fetchTree>>;
  try {
    tree = await fetchTree(github, repo, job.sha);
  } catch (err) {
    return void (await fail(
      `cannot fetch ${fullName(repo)}@${job.sha.slice(0, 7)}: ${(err as Error).message}`,
    ));
  }

  const deploymentId = job.cluster.environment
    ? await createDeployment(github, repo, job.sha, job.cluster.environment, clusterName)
    : undefined;
  if (deploymentId) await setDeploymentState(github, repo, deploymentId, "in_progress", "reconciling");

  const pending: Promise<void>[] = [];
  let run: RunResult;
  try {
    run = await reconcileTree(api, {
      ...defaultReconcileOptions(tree.dir, job.cluster.path),
      scope: inventoryScope(`${deps.githubHost}/${fullName(repo)}`.toLowerCase(), job.cluster.path),
      log,
      ...deps.engine,
      onProgress: (event) => {
        if (event.type !== "started") return;
        const name = event.kustomization.split("/").pop() ?? event.kustomization;
        pending.push(
          setStatus(github, repo, job.sha, {
            context:
              event.kind === "HelmRelease"
                ? statusContext.helmRelease(clusterName, name)
                : statusContext.kustomization(clusterName, name),
            state: "pending",
            description: "reconciling",
          }).catch((err) => log.warn({ err }, "cannot set pending status")),
        );
      },
    });
  } finally {
    tree.cleanup();
  }
  await Promise.all(pending);

  for (const k of run.kustomizations) {
    await setStatus(github, repo, job.sha, {
      context: statusContext.kustomization(clusterName, kustomizationLabel(k, run.kustomizations)),
      state: stateOf(k),
      description: kustomizationLine(k),
    });
  }
  for (const h of run.helmReleases ?? []) {
    await setStatus(github, repo, job.sha, {
      context: statusContext.helmRelease(clusterName, h.name),
      state:
        h.status === "Ready" || h.status === "Suspended"
          ? "success"
          : h.status === "DependencyNotReady"
            ? "error"
            : "failure",
      description: helmReleaseLine(h),
    });
  }
  const report = checkRunReport(clusterName, job.sha, run);
  const ok = report.conclusion === "success";
  await setStatus(github, repo, job.sha, {
    context: statusContext.cluster(clusterName),
    state: ok ? "success" : "failure",
    description: runLine(run),
  });
  await completeCheckRun(github, repo, job.checkRunId, report);
  if (deploymentId)
    await setDeploymentState(github, repo, deploymentId, ok ? "success" : "failure", runLine(run));
  log.info({ ok, durationMs: run.durationMs }, `cluster ${clusterName}: ${runLine(run)}`);
  return run;
}
