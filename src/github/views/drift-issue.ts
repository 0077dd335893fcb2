// The one drift issue per repository × cluster: found by the hidden marker its body starts with (on an issue a bot
// opened, so a person quoting the marker cannot have their issue edited or closed, and a marker quoted in a cell
// of another cluster's issue does not count), opened, edited in place, closed with a comment.
import type { GitHubClient, RepoRef } from "../client.js";
import { driftIssueMarker, driftIssueTitle } from "./drift-issue-report.js";

/** Open issues looked through for the marker, newest activity first (100 a page). */
const MAX_PAGES = 10;

export interface DriftIssue {
  number: number;
  title: string;
  body: string;
}

export async function findDriftIssue(
  github: GitHubClient,
  repo: RepoRef,
  cluster: string,
): Promise<DriftIssue | undefined> {
  const marker = driftIssueMarker(cluster);
  let pages = 0;
  let found: DriftIssue | undefined;
  await github.paginate(
    github.rest.issues.listForRepo,
    { ...repo, state: "open", sort: "updated", direction: "desc", per_page: 100 },
    (response, done) => {
      for (const issue of response.data) {
        if (issue.pull_request || issue.user?.type !== "Bot" || !issue.body?.startsWith(marker)) continue;
        found = { number: issue.number, title: issue.title, body: issue.body };
        break;
      }
      if (found || ++pages >= MAX_PAGES) done();
      return [];
    },
  );
  return found;
}

/** Opens the cluster's drift issue, or edits the open one when its text differs. */
export async function upsertDriftIssue(
  github: GitHubClient,
  repo: RepoRef,
  cluster: string,
  body: string,
): Promise<{ number: number; action: "opened" | "edited" | "unchanged" }> {
  const title = driftIssueTitle(cluster);
  const open = await findDriftIssue(github, repo, cluster);
  if (!open) {
    const { data } = await github.rest.issues.create({ ...repo, title, body });
    return { number: data.number, action: "opened" };
  }
  if (open.body === body && open.title === title) return { number: open.number, action: "unchanged" };
  await github.rest.issues.update({ ...repo, issue_number: open.number, title, body });
  return { number: open.number, action: "edited" };
}

/** Closes the cluster's open drift issue with `comment`; the number closed, or undefined when none was open. */
export async function closeDriftIssue(
  github: GitHubClient,
  repo: RepoRef,
  cluster: string,
  comment: string,
): Promise<number | undefined> {
  const open = await findDriftIssue(github, repo, cluster);
  if (!open) return undefined;
  await github.rest.issues.createComment({ ...repo, issue_number: open.number, body: comment });
  await github.rest.issues.update({
    ...repo,
    issue_number: open.number,
    state: "closed",
    state_reason: "completed",
  });
  return open.number;
}
