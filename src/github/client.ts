// The GitHub client the jobs use: probot's Octokit for one installation (REST methods, retry and throttling
// plugins, GHE base URL from probot's configuration).
import type { ProbotOctokit } from "probot";

export type GitHubClient = InstanceType<typeof ProbotOctokit>;

export interface RepoRef {
  owner: string;
  repo: string;
}

export function fullName(r: RepoRef): string {
  return `${r.owner}/${r.repo}`;
}
