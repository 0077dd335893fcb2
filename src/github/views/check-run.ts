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
    external_id: cluster,
  });
  openCheckRuns.set(key, data.id);
  openKeys.set(data.id, key);
  if (openCheckRuns.size > OPEN_CHECK_RUNS_LIMIT) {
    const [oldest, id] = openCheckRuns.entries().next().value ?? [];
    if (oldest !== undefined) openCheckRuns.delete(oldest);
    if (id !== undefined) openKeys.delete(id);
  }
  return data.id;
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

/** A failed check run for something that stopped the run before the engine (config, permissions). */
export async function createFailedCheckRun(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  name: string,
  title: string,
  summary: string,
): Promise<void> {
  await github.rest.checks.create({
    ...repo,
    name,
    head_sha: sha,
    status: "completed",
    conclusion: "failure",
    completed_at: new Date().toISOString(),
    output: { title: title.slice(0, 255), summary: clip(summary, CHECK_RUN_TEXT_LIMIT) },
  });
}
