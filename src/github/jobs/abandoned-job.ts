import { bindCluster } from "../../config/operator-config.js";
import { clustersForBranch } from "../../config/repo-config.js";
import { runStopped } from "../../reconcile/events.js";
import type { GitHubClient, RepoRef } from "../client.js";
import { fullName } from "../client.js";
import { loadRepoConfig } from "../repo-config-loader.js";
import { CHECK_RUN_NOT_CREATED, createFailedCheckRun, createQueuedCheckRun } from "../views/check-run.js";
import { codeSpan } from "../views/code-span.js";
import { setDeploymentState } from "../views/deployment.js";
import { stopDiffOnEveryCluster } from "./diff-clusters.js";
import { lastCheckRun } from "./last-check-run.js";
import { reconcileStream, runMetadata } from "./reconcile-job.js";
import type { CommandJob, DiffJob, GitOpsJob, JobDeps, PushJob, ReconcileJob } from "./types.js";
import { jobRepo } from "./types.js";

/** The check run of a push whose job was given up (the clusters' own check runs report their reconciles). */
export const PUSH_CHECK_RUN_NAME = "gitops / push job";

/** What a reconcile's status and check run title say (`reason`: the queue's line, "lost N times (…)"). */
export function abandonedMessage(reason: string): string {
  return `run ${reason}; not known to be applied: push again or /gitops reconcile`;
}

export function reportAbandonedJob(deps: () => JobDeps): (job: GitOpsJob, reason: string) => Promise<void> {
  return async (job, reason) => {
    const d = deps();
    d.log
      .child({ repo: fullName(jobRepo(job)), job: job.type })
      .error({ reason, delivery: job.deliveryId }, "job given up by the work queue");
    switch (job.type) {
      case "reconcile":
        return closeReconcile(job, d, reason);
      case "diff":
        return closeDiff(job, d, reason);
      case "push":
        return closePush(job, d, reason);
      case "command":
        return replyToCommand(job, d, reason);
      case "scheduled":
      case "images":
        return;
    }
  };
}

async function closeReconcile(job: ReconcileJob, deps: JobDeps, reason: string): Promise<void> {
  const cluster = job.cluster.name;
  const repo = jobRepo(job);
  const log = deps.log.child({ repo: fullName(repo), sha: job.sha, cluster });
  const checkRunId = await openCheckRun(await deps.github(job.installationId), job, log, deps.appId);
  if (checkRunId === undefined) {
    log.info("the given-up run's check run was completed by one of its starts; its report stands");
    return;
  }
  const stream = await reconcileStream({ ...job, checkRunId }, deps);
  const message = abandonedMessage(reason);
  stream.emit(
    cluster,
    runStopped(
      {
        conclusion: "failure",
        state: "error",
        message,
        detail: `gitops-bot gave this run of \`${cluster}\` at \`${job.sha}\` up: ${reason}. The replica running it was killed, or blocked past the job's lock, each time; the queue does not start it again. It is not known to be applied: part of it may have been.\n\nPush again or comment \`/gitops reconcile\` to run it again.`,
      },
      runMetadata(job, cluster),
    ),
  );
  await stream.close();
  const environment = job.cluster.environment;
  if (environment) {
    const github = await deps.github(job.installationId);
    await closeLostDeployments(github, repo, job.sha, environment, cluster, message).catch((err: unknown) =>
      log.warn({ err, environment }, "cannot close the deployments of the given-up run"),
    );
  }
}

/** Deployments looked at: a job is given up after a few starts, each of which may have created one. */
const LOST_DEPLOYMENTS_LIMIT = 20;

/**
 * The deployments the lost starts created (one per start: a restarted run does not find its predecessor's),
 * left in progress: each gets an `error` state. Only this bot's (created by a GitHub App, with the payload
 * `{ cluster }` that views/deployment.ts writes); one that already has a final state is left alone.
 */
async function closeLostDeployments(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  environment: string,
  cluster: string,
  message: string,
): Promise<void> {
  const { data } = await github.rest.repos.listDeployments({
    ...repo,
    sha,
    environment,
    per_page: LOST_DEPLOYMENTS_LIMIT,
  });
  const ours = data.filter(
    (d) =>
      d.creator?.type === "Bot" &&
      typeof d.payload === "object" &&
      d.payload !== null &&
      (d.payload as { cluster?: unknown }).cluster === cluster,
  );
  for (const deployment of ours) {
    const { data: states } = await github.rest.repos.listDeploymentStatuses({
      ...repo,
      deployment_id: deployment.id,
      per_page: 1,
    });
    const latest = states[0]?.state;
    if (latest !== undefined && !OPEN_DEPLOYMENT_STATES.has(latest)) continue;
    await setDeploymentState(github, repo, deployment.id, "error", message);
  }
}

/** Deployment states that are not final: a run that created the deployment did not end it. */
const OPEN_DEPLOYMENT_STATES = new Set<string>(["in_progress", "queued", "pending"]);

/**
 * The check run to conclude: the push job's, or the one a lost start created (its push job could not:
 * CHECK_RUN_NOT_CREATED), found on GitHub as a restarted push job finds its own, or opened now when there is
 * none. Undefined when a start completed it: that start ran to its end (its replica was lost after it reported,
 * before the queue heard), and a failure over its conclusion would show something the cluster does not.
 * When GitHub will not say: the push job's is concluded, else CHECK_RUN_NOT_CREATED (the report stream then
 * creates one completed).
 */
async function openCheckRun(
  github: GitHubClient,
  job: ReconcileJob,
  log: JobDeps["log"],
  appId: number | undefined,
): Promise<number | undefined> {
  const repo = jobRepo(job);
  try {
    if (job.checkRunId !== CHECK_RUN_NOT_CREATED) {
      const { data } = await github.rest.checks.get({ ...repo, check_run_id: job.checkRunId });
      return data.status === "completed" ? undefined : job.checkRunId;
    }
    const last = await lastCheckRun(github, repo, job.sha, job.cluster.name, appId);
    if (last) return last.status === "completed" ? undefined : last.id;
    return await createQueuedCheckRun(github, repo, job.sha, job.cluster.name);
  } catch (err) {
    log.warn({ err }, "cannot read the check run of the given-up run; it is concluded failure");
    return job.checkRunId;
  }
}

function closeDiff(job: DiffJob, deps: JobDeps, reason: string): Promise<void> {
  const message = `dry-run ${reason}; no verdict: push again or comment /gitops diff`;
  return stopDiffOnEveryCluster(job, deps, (cluster) =>
    runStopped(
      { conclusion: "failure", state: "error", message },
      runMetadata({ ...job, sha: job.headSha }, cluster),
    ),
  );
}

async function closePush(job: PushJob, deps: JobDeps, reason: string): Promise<void> {
  const github = await deps.github(job.installationId);
  const repo = jobRepo(job);
  const intro = `gitops-bot gave up the job that reads \`.github/gitops.yaml\` for this push to ${codeSpan(job.branch)} and queues its clusters' runs: it was ${reason}, and the queue does not start it again.`;
  const clusters = await clusterReports(github, job, deps).catch((err: unknown) => {
    deps.log.warn({ err, repo: fullName(repo) }, "cannot tell which clusters the given-up push job queued");
    return undefined;
  });
  if (clusters && clusters.length > 0 && clusters.every((c) => c.reported)) {
    // It had done its work before it was lost: every cluster's own check run reports on this push.
    await createFailedCheckRun(
      github,
      repo,
      job.sha,
      PUSH_CHECK_RUN_NAME,
      `push to ${job.branch}: ${reason} after every cluster's run reported`,
      `${intro}\n\nEvery cluster this branch drives (${clusters.map((c) => codeSpan(c.cluster)).join(", ")}) has a check run of its own for this push, in progress or concluded since the job was queued: it says whether, and what, was applied.`,
      "neutral",
    );
    return;
  }
  const silent = clusters?.filter((c) => !c.reported).map((c) => codeSpan(c.cluster));
  await createFailedCheckRun(
    github,
    repo,
    job.sha,
    PUSH_CHECK_RUN_NAME,
    `push to ${job.branch}: ${reason}`,
    `${intro}\n\nA cluster whose run it had queued reports on its own check run. A cluster whose check run stays queued, or that has none, was not queued and is not applied: push again or comment \`/gitops reconcile\`.${silent?.length ? `\n\nNo report of this push yet when the job was given up: ${silent.join(", ")}.` : ""}`,
  );
}

/** Clusters whose check runs a given-up push job reads (one request each); past it, the failure as before. */
const REPORTED_CLUSTERS_LIMIT = 20;

/**
 * Each cluster the push job was to queue (the pushed branch drives it on this bot, allowed by the operator;
 * only `onlyCluster` for a command's), and whether its own check run has reported on this push: in progress or
 * completed (applied, failed, superseded, refused or interrupted: each says so), started since the job was
 * queued. A check run of the same commit from an earlier push or command, or one left open by a run before a
 * restart, started before and does not count; so does one still queued (its run may never come). Both times are
 * this bot's clocks (views/check-run.ts sets `started_at`). Undefined when that cannot be told (no readable
 * configuration, a job queued by a version without `queuedAt`, too many clusters); throws what GitHub answers.
 */
async function clusterReports(
  github: GitHubClient,
  job: PushJob,
  deps: JobDeps,
): Promise<{ cluster: string; reported: boolean }[] | undefined> {
  const queuedAt = job.queuedAt ? Date.parse(job.queuedAt) : Number.NaN;
  if (Number.isNaN(queuedAt)) return undefined;
  const repo = jobRepo(job);
  const loaded = await loadRepoConfig(github, repo, job.defaultBranch);
  if (loaded.kind !== "ok") return undefined;
  const clusters = clustersForBranch(loaded.config, job.branch, job.defaultBranch).filter(
    (c) =>
      (job.onlyCluster === undefined || c.name === job.onlyCluster) &&
      bindCluster(deps.operator, c.name, fullName(repo)).ok,
  );
  if (clusters.length > REPORTED_CLUSTERS_LIMIT) return undefined;
  const out: { cluster: string; reported: boolean }[] = [];
  for (const c of clusters) {
    const last = await lastCheckRun(github, repo, job.sha, c.name, deps.appId);
    const since = last?.startedAt ? Date.parse(last.startedAt) : Number.NaN;
    const open = last?.status === "in_progress" || last?.status === "completed";
    out.push({ cluster: c.name, reported: open && since >= queuedAt });
  }
  return out;
}

async function replyToCommand(job: CommandJob, deps: JobDeps, reason: string): Promise<void> {
  const github = await deps.github(job.installationId);
  await github.rest.issues.createComment({
    ...jobRepo(job),
    issue_number: job.issueNumber,
    body: `@${job.user} gitops-bot gave \`/gitops ${job.command.verb}\` up: it was ${reason}. It may have partly run; comment it again to retry.`,
  });
}
