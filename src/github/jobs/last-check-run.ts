// The last check run of a cluster at a commit on GitHub, whoever created it (this replica, another, or a start
// lost with its replica): what a restarted or given-up job looks at before it writes a final report.
import type { GitHubClient, RepoRef } from "../client.js";
import { checkRunName } from "../views/check-run.js";

export interface ListedCheckRun {
  id: number;
  status: string;
  conclusion: string | null;
}

/** The newest of this bot's check runs for `cluster` at `sha` (one request), or undefined when there is none. */
export async function lastCheckRun(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  cluster: string,
): Promise<ListedCheckRun | undefined> {
  const { data } = await github.rest.checks.listForRef({
    ...repo,
    ref: sha,
    check_name: checkRunName(cluster),
    filter: "latest",
    per_page: 100,
  });
  const [last] = data.check_runs.filter((c) => c.external_id === cluster).sort((a, b) => b.id - a.id);
  return last && { id: last.id, status: last.status, conclusion: last.conclusion };
}
