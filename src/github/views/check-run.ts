// One check run per cluster and commit: queued when the push is accepted, in progress while it runs, then
// completed with the ChangeSet report.
import type { GitHubClient, RepoRef } from "../client.js";
import type { CheckRunReport } from "./check-run-report.js";
import { CHECK_RUN_TEXT_LIMIT } from "./markdown-budget.js";
import { clip } from "./summary-line.js";

export const checkRunName = (cluster: string) => `gitops / ${cluster}`;

// The check runs this process created and has not completed, by repository, commit and cluster: a push
// delivered again (GitHub redelivers, or sends the same push twice) reuses the open one instead of adding a
// second check run to the commit. Bounded: the oldest entries go first.
const openCheckRuns = new Map<string, number>();
const openKeys = new Map<number, string>();
const OPEN_CHECK_RUNS_LIMIT = 10_000;
const openKey = (repo: RepoRef, sha: string, cluster: string) =>
  `${repo.owner}/${repo.repo}@${sha} ${cluster}`;

/**
 * The check run id a reconcile carries when the push job could not create its queued check run (GitHub was
 * failing): the run's check-run reporter creates it through the report plan instead, so creating it never
 * gates the work. GitHub's ids are positive.
 */
export const CHECK_RUN_NOT_CREATED = 0;

function rememberOpen(key: string, id: number): void {
  openCheckRuns.set(key, id);
  openKeys.set(id, key);
  if (openCheckRuns.size > OPEN_CHECK_RUNS_LIMIT) {
    const [oldest, oldId] = openCheckRuns.entries().next().value ?? [];
    if (oldest !== undefined) openCheckRuns.delete(oldest);
    if (oldId !== undefined) openKeys.delete(oldId);
  }
}

/**
 * An open check run found on GitHub (start-up recovery): the next push job for that commit and cluster reuses
 * it instead of adding a second one.
 */
export function adoptOpenCheckRun(repo: RepoRef, sha: string, cluster: string, id: number): void {
  rememberOpen(openKey(repo, sha, cluster), id);
}

/**
 * Adopts this app's open (queued or in progress) check run of a cluster at a commit, if GitHub has one: a
 * push job restarted on another replica reuses the check run its lost start created instead of leaving it
 * queued forever beside a second one. One request (check runs of the commit, by name).
 */
export async function adoptOpenCheckRunFromGitHub(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  cluster: string,
  appId?: number,
): Promise<void> {
  const key = openKey(repo, sha, cluster);
  if (openCheckRuns.has(key)) return;
  const [open] = (await clusterCheckRuns(github, repo, sha, cluster, appId)).filter(
    (c) => c.status !== "completed",
  );
  if (open) rememberOpen(key, open.id);
}

export interface ListedCheckRun {
  id: number;
  status: string;
  conclusion: string | null;
  /** When it was created, or last marked in progress (ISO 8601). */
  startedAt: string | null;
}

/**
 * This bot's check runs of `cluster` at `sha` on GitHub, oldest first, whoever created them (this replica,
 * another, or a start lost with its replica). One request (the commit's check runs, by name). With `appId` (the
 * GitHub App's id, APP_ID) GitHub lists only this app's: another app or workflow with `checks: write` on the
 * repository can create a check run of the same name and external id, which would otherwise be read as ours.
 */
export async function clusterCheckRuns(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  cluster: string,
  appId?: number,
): Promise<ListedCheckRun[]> {
  const { data } = await github.rest.checks.listForRef({
    ...repo,
    ref: sha,
    check_name: checkRunName(cluster),
    filter: "latest",
    per_page: 100,
    ...(appId !== undefined ? { app_id: appId } : {}),
  });
  return data.check_runs
    .filter((c) => c.external_id === cluster)
    .sort((a, b) => a.id - b.id)
    .map((c) => ({ id: c.id, status: c.status, conclusion: c.conclusion, startedAt: c.started_at }));
}

/** The queued check run of a cluster at a commit: the one still open from an earlier delivery, or a new one. */
export async function createQueuedCheckRun(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  cluster: string,
): Promise<number> {
  const key = openKey(repo, sha, cluster);
  const open = openCheckRuns.get(key);
  if (open !== undefined) return open;
  const { data } = await github.rest.checks.create({
    ...repo,
    name: checkRunName(cluster),
    head_sha: sha,
    status: "queued",
    // Ours, not GitHub's clock: a given-up push job compares it with when it was queued (abandoned-job.ts).
    started_at: new Date().toISOString(),
    external_id: cluster,
  });
  rememberOpen(key, data.id);
  return data.id;
}

/** The check run of a run whose queued one could not be created: created in progress when the run starts. */
export async function createInProgressCheckRun(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  cluster: string,
): Promise<number> {
  const { data } = await github.rest.checks.create({
    ...repo,
    name: checkRunName(cluster),
    head_sha: sha,
    status: "in_progress",
    started_at: new Date().toISOString(),
    external_id: cluster,
  });
  rememberOpen(openKey(repo, sha, cluster), data.id);
  return data.id;
}

/** A check run created already completed: the run ended before its check run could be created. */
export async function createCompletedCheckRun(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  cluster: string,
  report: CheckRunReport,
): Promise<void> {
  await github.rest.checks.create({
    ...repo,
    name: checkRunName(cluster),
    head_sha: sha,
    external_id: cluster,
    status: "completed",
    conclusion: report.conclusion,
    started_at: new Date().toISOString(),
    completed_at: new Date().toISOString(),
    output: { title: report.title.slice(0, 255), summary: report.summary },
  });
}

function forgetOpenCheckRun(id: number): void {
  const key = openKeys.get(id);
  openKeys.delete(id);
  if (key !== undefined && openCheckRuns.get(key) === id) openCheckRuns.delete(key);
}

export async function markCheckRunInProgress(github: GitHubClient, repo: RepoRef, id: number): Promise<void> {
  await github.rest.checks.update({
    ...repo,
    check_run_id: id,
    status: "in_progress",
    started_at: new Date().toISOString(),
  });
}

export async function completeCheckRun(
  github: GitHubClient,
  repo: RepoRef,
  id: number,
  report: CheckRunReport,
): Promise<void> {
  await github.rest.checks.update({
    ...repo,
    check_run_id: id,
    status: "completed",
    conclusion: report.conclusion,
    completed_at: new Date().toISOString(),
    output: { title: report.title.slice(0, 255), summary: report.summary },
  });
  forgetOpenCheckRun(id);
}

/**
 * A failed check run for something that stopped the run before the engine (config, permissions); `neutral` for
 * a job that stopped without being at fault for what the clusters show (their own check runs say it).
 */
export async function createFailedCheckRun(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  name: string,
  title: string,
  summary: string,
  conclusion: "failure" | "neutral" = "failure",
): Promise<void> {
  await github.rest.checks.create({
    ...repo,
    name,
    head_sha: sha,
    status: "completed",
    conclusion,
    completed_at: new Date().toISOString(),
    output: { title: title.slice(0, 255), summary: clip(summary, CHECK_RUN_TEXT_LIMIT) },
  });
}
