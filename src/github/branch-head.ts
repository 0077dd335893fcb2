// Branch heads for the schedule, read with conditional requests: GitHub answers `If-None-Match` with 304 Not
// Modified when the ref did not move, and a 304 does not count against the installation's rate limit. The
// ETag of each branch is remembered per process (a restart costs one full read per branch).
import type { GitHubClient, RepoRef } from "./client.js";

export interface BranchHead {
  sha: string;
  /** True when GitHub answered 304: nothing moved since the last read (a free request). */
  notModified: boolean;
}

/** What was read, for the benchmark and metrics: full reads count against the rate limit, 304s do not. */
export interface BranchHeadCounts {
  full: number;
  notModified: number;
}

/** Branches remembered per reader; the least recently read goes first (deleted branches are never read again). */
export const MAX_REMEMBERED_BRANCHES = 10_000;

export class BranchHeads {
  private readonly seen = new Map<string, { etag: string; sha: string }>();
  readonly counts: BranchHeadCounts = { full: 0, notModified: 0 };

  constructor(private readonly capacity = MAX_REMEMBERED_BRANCHES) {}

  private remember(key: string, entry: { etag: string; sha: string }): void {
    this.seen.delete(key);
    this.seen.set(key, entry);
    if (this.seen.size > this.capacity) this.seen.delete(this.seen.keys().next().value as string);
  }

  async read(github: GitHubClient, repo: RepoRef, branch: string): Promise<BranchHead> {
    // Owner and repository names are case-insensitive on GitHub; branch names are not.
    const key = `${repo.owner.toLowerCase()}/${repo.repo.toLowerCase()}@${branch}`;
    const last = this.seen.get(key);
    try {
      const response = await github.rest.git.getRef({
        ...repo,
        ref: `heads/${branch}`,
        ...(last ? { headers: { "if-none-match": last.etag } } : {}),
      });
      this.counts.full++;
      const sha = response.data.object.sha;
      const etag = response.headers.etag;
      if (etag) this.remember(key, { etag, sha });
      else this.seen.delete(key);
      return { sha, notModified: false };
    } catch (err) {
      if ((err as { status?: number }).status === 304 && last) {
        this.counts.notModified++;
        this.remember(key, last);
        return { sha: last.sha, notModified: true };
      }
      throw err;
    }
  }
}
