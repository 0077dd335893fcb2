// The one dry-run comment per pull request: found by its hidden marker (on a bot's comment, so a person quoting
// the marker cannot have their comment overwritten) and edited in place, never duplicated.
import type { GitHubClient, RepoRef } from "../client.js";
import { DIFF_COMMENT_MARKER } from "./pr-comment-report.js";

export async function upsertDiffComment(
  github: GitHubClient,
  repo: RepoRef,
  issueNumber: number,
  body: string,
): Promise<{ id: number; created: boolean }> {
  const comments = await github.paginate(github.rest.issues.listComments, {
    ...repo,
    issue_number: issueNumber,
    per_page: 100,
  });
  const ours = comments.find((c) => c.body?.includes(DIFF_COMMENT_MARKER) && c.user?.type === "Bot");
  if (ours) {
    await github.rest.issues.updateComment({ ...repo, comment_id: ours.id, body });
    return { id: ours.id, created: false };
  }
  const { data } = await github.rest.issues.createComment({ ...repo, issue_number: issueNumber, body });
  return { id: data.id, created: true };
}
