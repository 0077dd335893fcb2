// The heads of pushed branches, read with If-None-Match (branch-head.ts): a push's job reads the head before it
// queues the push's reconciles, and each reconcile reads it again before applying. Sharing one reader per process
// makes the reads after the first 304s while the branch has not moved, which cost no rate limit: a push bound to
// N clusters costs one counted read, not N + 1. A reconcile on another replica (or after a restart) reads in full,
// and so does the first read after the installation token is renewed (GitHub's ETags differ per token).
// The schedule keeps its own reader, whose counts are the schedule's cost.
import { BranchHeads } from "../branch-head.js";
import type { GitHubClient, RepoRef } from "../client.js";

const pushedHeads = new BranchHeads();

/** The head commit of `branch` (a 304 answers from this process's last read of it). Throws what GitHub answers. */
export async function readPushedHead(github: GitHubClient, repo: RepoRef, branch: string): Promise<string> {
  return (await pushedHeads.read(github, repo, branch)).sha;
}
