// At start-up: finish or truthfully close the runs an earlier process of this bot did not end (killed, crashed,
// or cut off by its shutdown), with GitHub as the journal (journal.ts), so this works with the in-memory queue.
// For each installed repository and each branch its .github/gitops.yaml tracks: this app's check runs on the
// branch's recent commits that are still queued or in progress, or were cancelled by a shutdown. Those on the
// branch head are re-run (a push job for that cluster, reporting on the open check run); the others are closed
// as superseded (check run skipped, a non-failing status saying so, their pending statuses closed). Best effort:
// a repository that cannot be read is logged and skipped.
import type { Logger } from "pino";
import type { Probot } from "probot";
import { clustersForBranch } from "../../config/repo-config.js";
import type { WorkQueue } from "../../queue/work-queue.js";
import { fullName, type GitHubClient, type RepoRef } from "../client.js";
import type { GitOpsJob } from "../jobs/types.js";
import { loadRepoConfig } from "../repo-config-loader.js";
import { PlannedWrites, priorities, statusWriteKey } from "../reporters/planned-writes.js";
import { WrittenReports } from "../reporters/written-reports.js";
import { adoptOpenCheckRun, completeCheckRun } from "../views/check-run.js";
import { clusterStatuses, setStatus, statusContext } from "../views/commit-status.js";
import { type JournalCheckRun, type RecoveryAction, recoveryActions } from "./journal.js";
import { withinMs } from "./lifecycle.js";

/** How many of a branch's latest commits are searched for unfinished runs. */
export const RECENT_COMMITS = 10;

export interface RecoverySummary {
  repositories: number;
  rerun: number;
  superseded: number;
  failed: number;
}

export interface RecoveryOptions {
  queue: WorkQueue<GitOpsJob>;
  log: Logger;
  /** The longest the superseded reports are waited for (they go on being retried in the background). */
  reportTimeoutMs?: number;
}

interface Repository {
  installationId: number;
  github: GitHubClient;
  repo: RepoRef;
  defaultBranch: string;
}

export async function recoverInterruptedRuns(
  app: Probot,
  options: RecoveryOptions,
): Promise<RecoverySummary> {
  const summary: RecoverySummary = { repositories: 0, rerun: 0, superseded: 0, failed: 0 };
  const appClient = await app.auth();
  const { data: self } = await appClient.rest.apps.getAuthenticated();
  if (!self) throw new Error("GitHub did not say which app this is (GET /app)");
  const installations = await appClient.paginate(appClient.rest.apps.listInstallations, { per_page: 100 });
  for (const installation of installations) {
    const github = await app.auth(installation.id);
    const repositories = await github.paginate(github.rest.apps.listReposAccessibleToInstallation, {
      per_page: 100,
    });
    for (const r of repositories) {
      if (r.archived || r.disabled) continue;
      const repository: Repository = {
        installationId: installation.id,
        github,
        repo: { owner: r.owner.login, repo: r.name },
        defaultBranch: r.default_branch,
      };
      summary.repositories++;
      try {
        const done = await recoverRepository(repository, self.id, options);
        summary.rerun += done.rerun;
        summary.superseded += done.superseded;
      } catch (err) {
        summary.failed++;
        options.log.warn(
          { err, repo: r.full_name },
          "recovery: cannot read the repository's unfinished runs",
        );
      }
    }
  }
  return summary;
}

async function recoverRepository(
  repository: Repository,
  appId: number,
  options: RecoveryOptions,
): Promise<{ rerun: number; superseded: number }> {
  const { github, repo, defaultBranch } = repository;
  const loaded = await loadRepoConfig(github, repo, defaultBranch);
  if (loaded.kind !== "ok") return { rerun: 0, superseded: 0 };
  const branches = new Set(loaded.config.clusters.map((c) => c.branch ?? defaultBranch));
  const log = options.log.child({ repo: fullName(repo) });
  const plan = new PlannedWrites(new WrittenReports(), log);
  let rerun = 0;
  let superseded = 0;
  for (const branch of branches) {
    const clusters = clustersForBranch(loaded.config, branch, defaultBranch).map((c) => c.name);
    const { data: ref } = await github.rest.git.getRef({ ...repo, ref: `heads/${branch}` });
    const head = ref.object.sha;
    const { data: commits } = await github.rest.repos.listCommits({
      ...repo,
      sha: head,
      per_page: RECENT_COMMITS,
    });
    const shas = [head, ...commits.map((c) => c.sha).filter((sha) => sha !== head)];
    const checkRuns: JournalCheckRun[] = [];
    for (const sha of shas) {
      const { data } = await github.rest.checks.listForRef({
        ...repo,
        ref: sha,
        app_id: appId,
        filter: "latest",
        per_page: 100,
      });
      checkRuns.push(...data.check_runs);
    }
    for (const action of recoveryActions(checkRuns, clusters, head)) {
      if (action.kind === "rerun") {
        await rerunAt(repository, branch, action, log, options.queue);
        rerun++;
      } else if (await closeSuperseded(repository, branch, action, plan)) {
        superseded++;
      }
    }
  }
  await withinMs(plan.idle(), options.reportTimeoutMs ?? 60_000);
  return { rerun, superseded };
}

async function rerunAt(
  { installationId, repo, defaultBranch }: Repository,
  branch: string,
  action: Extract<RecoveryAction, { kind: "rerun" }>,
  log: Logger,
  queue: WorkQueue<GitOpsJob>,
): Promise<void> {
  // The push job finds this check run open and reports on it instead of adding a second one.
  if (action.reuse !== undefined) adoptOpenCheckRun(repo, action.sha, action.cluster, action.reuse);
  log.info(
    { sha: action.sha, cluster: action.cluster, checkRun: action.reuse },
    "recovery: a run the bot did not finish; running it again",
  );
  await queue.enqueue({
    key: `push:${fullName(repo)}@refs/heads/${branch}`,
    supersedes: false,
    payload: {
      type: "push",
      deliveryId: `recovery:${fullName(repo)}@${action.sha}:${action.cluster}`,
      installationId,
      owner: repo.owner,
      repo: repo.repo,
      defaultBranch,
      branch,
      sha: action.sha,
      onlyCluster: action.cluster,
      queuedAt: new Date().toISOString(),
    },
  });
}

/** Closes an unfinished run of a commit that is no longer the head; false when it was already closed so. */
async function closeSuperseded(
  { github, repo }: Repository,
  branch: string,
  action: Extract<RecoveryAction, { kind: "supersede" }>,
  plan: PlannedWrites,
): Promise<boolean> {
  const context = statusContext.cluster(action.cluster);
  const { aggregate, objects } = await clusterStatuses(github, repo, action.sha, action.cluster);
  const head = action.head.slice(0, 7);
  const description = `superseded by ${head} before it finished (the bot restarted); not applied`;
  if (
    action.open === undefined &&
    aggregate &&
    aggregate.state !== "error" &&
    aggregate.state !== "pending"
  ) {
    return false;
  }
  if (action.open !== undefined) {
    const id = action.open;
    plan.want({
      key: `check run ${fullName(repo)}@${action.sha} ${id}`,
      priority: priorities.aggregate,
      fingerprint: "skipped superseded",
      what: `check run ${id} (superseded)`,
      send: () =>
        completeCheckRun(github, repo, id, {
          conclusion: "skipped",
          title: `${action.cluster}: superseded: ${branch} is at ${head} now; not applied`,
          summary: `This run did not finish: gitops-bot stopped before it ended. \`${branch}\` has moved on to \`${action.head}\`; only the newest commit is applied.`,
        }),
    });
  }
  const write = (statusContextName: string, text: string, priority: number) =>
    plan.want({
      key: statusWriteKey(fullName(repo), action.sha, statusContextName),
      priority,
      fingerprint: `success ${text}`,
      what: `status ${statusContextName} (superseded)`,
      send: () =>
        setStatus(github, repo, action.sha, {
          context: statusContextName,
          state: "success",
          description: text,
        }),
    });
  write(context, description, priorities.aggregate);
  // Per-object statuses the dead run left pending ("reconciling").
  for (const s of objects) {
    if (s.state === "pending") {
      write(s.context, `not finished: the bot restarted; superseded by ${head}`, priorities.object);
    }
  }
  return true;
}
