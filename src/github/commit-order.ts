// Whether a branch head read from GitHub has really moved past a pushed commit. GitHub's ref reads can lag a
// push by a moment (read-after-write on its replicas), so a head that differs from the pushed commit is not proof
// that the push is old: only a compare saying the head is ahead of it (the commit is in the head's history) or
// diverged from it (the branch was rewritten) is. One request, made only when the two differ.
import type { GitHubClient, RepoRef } from "./client.js";

export type HeadOrder = "ahead" | "not-ahead" | "unknown";

/**
 * `ahead`: `head` has moved past `sha` (or the branch was rewritten without it); `not-ahead`: `head` is `sha`
 * or behind it (a stale read); `unknown`: GitHub could not say (callers treat `sha` as the head, so that a failed
 * read never drops a push).
 */
export async function headOrder(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  head: string,
): Promise<HeadOrder> {
  if (head === sha) return "not-ahead";
  try {
    const { data } = await github.rest.repos.compareCommitsWithBasehead({
      ...repo,
      basehead: `${sha}...${head}`,
      per_page: 1,
    });
    return data.status === "ahead" || data.status === "diverged" ? "ahead" : "not-ahead";
  } catch {
    return "unknown";
  }
}
