// One check run per cluster and commit: queued when the push is accepted, in progress while it runs, then
// completed with the ChangeSet report.
import type { GitHubClient, RepoRef } from "../client.js";
import type { CheckRunReport } from "./check-run-report.js";
import { CHECK_RUN_TEXT_LIMIT } from "./markdown-budget.js";
import { clip } from "./summary-line.js";

export const checkRunName = (cluster: string) => `gitops / ${cluster}`;

export async function createQueuedCheckRun(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  cluster: string,
): Promise<number> {
  const { data } = await github.rest.checks.create({
    ...repo,
    name: checkRunName(cluster),
    head_sha: sha,
    status: "queued",
    external_id: cluster,
  });
  return data.id;
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
