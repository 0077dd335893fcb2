// The last check run of a cluster at a commit on GitHub, whoever created it (this replica, another, or a start
// lost with its replica): what a restarted or given-up job looks at before it writes a final report.
import type { GitHubClient, RepoRef } from "../client.js";
import { clusterCheckRuns, type ListedCheckRun } from "../views/check-run.js";

export type { ListedCheckRun };

/** The newest of this bot's check runs for `cluster` at `sha` (one request), or undefined when there is none. */
export async function lastCheckRun(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  cluster: string,
  /** This GitHub App's id: only its check runs (see clusterCheckRuns). */
  appId?: number,
): Promise<ListedCheckRun | undefined> {
  return (await clusterCheckRuns(github, repo, sha, cluster, appId)).at(-1);
}
