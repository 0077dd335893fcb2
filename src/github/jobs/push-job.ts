// A push, once queued: read .github/gitops.yaml from the default branch, check each cluster the pushed branch
// drives against the operator's allow-list, and queue a reconcile per allowed cluster. GitHub's answers to the
// reports never gate that: a queued check run GitHub refuses is created by the run instead, and the "queued"
// status (reports.pendingStatuses) goes through a report plan of its own that the run's result overtakes.
// A push delivered after the branch moved on (GitHub may deliver pushes out of order) queues nothing: its
// reconcile would supersede the head's still-waiting one and then find itself not the head, applying neither.
import type { Logger } from "pino";
import { bindCluster } from "../../config/operator-config.js";
import { clustersForBranch } from "../../config/repo-config.js";
import { QueueClosedError } from "../../queue/work-queue.js";
import { runStopped } from "../../reconcile/events.js";
import type { GitHubClient, RepoRef } from "../client.js";
import { fullName } from "../client.js";
import { type HeadOrder, headOrder } from "../commit-order.js";
import { reportInterrupted, SHUT_DOWN_BEFORE_RUN } from "../recovery/interrupted.js";
import { withinMs } from "../recovery/lifecycle.js";
import { loadRepoConfig } from "../repo-config-loader.js";
import { openReportStream } from "../reporters/index.js";
import { reportOptions } from "../reporters/options.js";
import { PlannedWrites, priorities, statusWriteKey } from "../reporters/planned-writes.js";
import { WrittenReports } from "../reporters/written-reports.js";
import {
  adoptOpenCheckRunFromGitHub,
  CHECK_RUN_NOT_CREATED,
  createFailedCheckRun,
  createQueuedCheckRun,
} from "../views/check-run.js";
import { setStatus, statusContext } from "../views/commit-status.js";
import { readPushedHead } from "./pushed-heads.js";
import { runMetadata } from "./reconcile-job.js";
import { notQueued } from "./refused-job.js";
import { closePushBehindHead } from "./superseded.js";
import { type JobDeps, jobRepo, type PushJob } from "./types.js";

/** How long a push job waits for the reports of an invalid .github/gitops.yaml (they go on in the background). */
const CONFIG_REPORT_WAIT_MS = 60_000;

/**
 * The queued check run, or CHECK_RUN_NOT_CREATED when GitHub would not create it (the run will). A push job
 * restarted after its replica was lost looks on GitHub first: the lost start may have created it already.
 */
async function queuedCheckRun(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  cluster: string,
  log: Logger,
  restarted: boolean,
  appId: number | undefined,
): Promise<number> {
  try {
    if (restarted) await adoptOpenCheckRunFromGitHub(github, repo, sha, cluster, appId);
    return await createQueuedCheckRun(github, repo, sha, cluster);
  } catch (err) {
    log.warn({ err, cluster }, "cannot create the queued check run; the run creates it when it starts");
    return CHECK_RUN_NOT_CREATED;
  }
}

/**
 * The branch's head, or undefined when GitHub could not say: then the push is queued as if it were the head
 * (the reconcile checks the head again before applying), so that a failed read never loses a push.
 */
async function branchHead(github: GitHubClient, repo: RepoRef, branch: string, log: Logger) {
  try {
    return await readPushedHead(github, repo, branch);
  } catch (err) {
    log.warn({ err }, "cannot read the branch head; the push is queued and its run checks the head");
    return undefined;
  }
}

export async function runPushJob(
  job: PushJob,
  deps: JobDeps,
  start: { restarted: boolean } = { restarted: false },
): Promise<void> {
  const github = await deps.github(job.installationId);
  const repo = jobRepo(job);
  const log = deps.log.child({ repo: fullName(repo), sha: job.sha, branch: job.branch });
  const loaded = await loadRepoConfig(github, repo, job.defaultBranch);
  if (loaded.kind === "absent") {
    log.info("no .github/gitops.yaml on the default branch; push ignored");
    return;
  }
  if (loaded.kind === "invalid") {
    log.warn({ err: loaded.error.message }, "invalid .github/gitops.yaml");
    const { error } = loaded;
    // Retried while GitHub fails; nothing is applied, so the job may wait for them, within a bound.
    const reports = new PlannedWrites(new WrittenReports(), log);
    const context = statusContext.config();
    reports.want({
      key: statusWriteKey(fullName(repo), job.sha, context),
      priority: priorities.aggregate,
      fingerprint: `failure ${error.message}`,
      what: `status ${context}`,
      send: () => setStatus(github, repo, job.sha, { context, state: "failure", description: error.message }),
    });
    reports.want({
      key: `check run ${fullName(repo)}@${job.sha} gitops / config`,
      priority: priorities.aggregate,
      fingerprint: error.message,
      what: "check run gitops / config",
      send: () =>
        createFailedCheckRun(
          github,
          repo,
          job.sha,
          "gitops / config",
          `${error.file} is invalid`,
          error.problems
            .map(
              (p) =>
                `- \`${error.file}\`${p.line ? ` line ${p.line}` : ""}${p.field ? `, \`${p.field}\`` : ""}: ${p.message}`,
            )
            .join("\n"),
        ),
    });
    await withinMs(reports.idle(), CONFIG_REPORT_WAIT_MS);
    return;
  }
  if (job.branch === job.defaultBranch && deps.images && !job.onlyCluster) {
    // The default branch holds the image automations: re-read them after every push to it.
    await deps.queue.enqueue({
      key: `images:${fullName(repo)}`,
      supersedes: true,
      payload: { ...job, type: "images" },
    });
  }
  const clusters = clustersForBranch(loaded.config, job.branch, job.defaultBranch).filter(
    (c) => !job.onlyCluster || c.name === job.onlyCluster,
  );
  if (clusters.length === 0) {
    log.info("no cluster tracks this branch; push ignored");
    return;
  }
  // Read before any reconcile is queued (only when one may be). Not atomic with the enqueue below, and need not
  // be: a push arriving in between runs after this job (a branch's push jobs run one at a time, in order), and
  // its reconcile supersedes ours.
  const bound = clusters.some((c) => bindCluster(deps.operator, c.name, fullName(repo)).ok);
  const head = bound ? await branchHead(github, repo, job.branch, log) : undefined;
  // Asked once per job, and only when the read head differs: a stale read must not drop the head's own push.
  let order: Promise<HeadOrder> | undefined;
  const behindHead = (h: string) => {
    order ??= headOrder(github, repo, job.sha, h);
    return order;
  };
  const pendingStatuses = reportOptions(deps.operator).pendingStatuses;
  // Refusals are reported on the same stream as runs: the cluster's status and a completed check run.
  const refusals = openReportStream({ github, repo, sha: job.sha, log, kind: "push", pendingStatuses });
  // The "queued" statuses: sent in the background, retried while GitHub fails, and overtaken (never sent, or
  // never after it) by the run's own status for the same commit and cluster.
  const queuedReports = new PlannedWrites(new WrittenReports(), log);
  try {
    for (const cluster of clusters) {
      const binding = bindCluster(deps.operator, cluster.name, fullName(repo));
      if (!binding.ok) {
        log.warn({ cluster: cluster.name }, binding.reason);
        refusals.emit(
          cluster.name,
          runStopped(
            {
              conclusion: "failure",
              message: `${binding.reason}; nothing applied`,
              detail: `${binding.reason}. Nothing was applied.\n\nThe operator of this gitops-bot lists, per cluster, the repositories that may target it (see the README, "Operator configuration").`,
            },
            runMetadata(job, cluster.name),
          ),
        );
        continue;
      }
      if (head !== undefined && head !== job.sha && (await behindHead(head)) === "ahead") {
        log.info({ cluster: cluster.name, head }, "the branch is at another commit; reconcile not queued");
        await closePushBehindHead(job, cluster, head, deps, { restarted: start.restarted, log });
        continue;
      }
      const checkRunId = await queuedCheckRun(
        github,
        repo,
        job.sha,
        cluster.name,
        log,
        start.restarted,
        deps.appId,
      );
      try {
        // The check run says "queued"; a pending cluster status only when the operator asks for pending statuses.
        if (pendingStatuses) {
          const context = statusContext.cluster(cluster.name);
          queuedReports.want({
            key: statusWriteKey(fullName(repo), job.sha, context),
            priority: priorities.aggregate,
            fingerprint: "pending queued",
            what: `status ${context} (queued)`,
            send: () =>
              setStatus(github, repo, job.sha, { context, state: "pending", description: "queued" }),
          });
        }
        const queued = await deps.queue.enqueue({
          key: `reconcile:${fullName(repo)}:${cluster.name}`,
          supersedes: true,
          payload: { ...job, type: "reconcile", cluster, checkRunId },
          // Restarted after a lost replica, this job may find its lost start's reconcile held: wait it out.
          waitIfHeld: true,
        });
        log.info(
          { delivery: job.deliveryId, cluster: cluster.name, checkRunId, queued: queued.queued },
          start.restarted ? "reconcile queued (push job restarted)" : "reconcile queued",
        );
      } catch (err) {
        // Not queued (the bot is shutting down, the queue refused it): say so rather than leave a check queued.
        // A shutdown hands the run back: reported as interrupted, and re-run at the next start (recovery/).
        const target = {
          github,
          repo,
          sha: job.sha,
          log,
          kind: "push" as const,
          checkRuns: { [cluster.name]: checkRunId },
          pendingStatuses,
        };
        if (err instanceof QueueClosedError) {
          await reportInterrupted(target, {}, job, cluster.name, SHUT_DOWN_BEFORE_RUN);
        } else {
          const stream = openReportStream(target);
          stream.emit(cluster.name, notQueued(job, cluster.name, `not run: ${(err as Error).message}`));
          await stream.close();
        }
        throw err;
      }
    }
  } finally {
    await refusals.close();
  }
}
