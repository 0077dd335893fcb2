// Commit statuses: `gitops/<cluster>` for a cluster's run, `gitops/<cluster>/<kustomization>` per Kustomization,
// `gitops/diff/<cluster>` for pull request dry-runs, `gitops/config` for a broken .github/gitops.yaml. Contexts
// are distinct per cluster so clusters never overwrite each other.
import type { GitHubClient, RepoRef } from "../client.js";
import { clip, STATUS_DESCRIPTION_LIMIT } from "./summary-line.js";

export type StatusState = "pending" | "success" | "failure" | "error";

export const statusContext = {
  cluster: (cluster: string) => `gitops/${cluster}`,
  kustomization: (cluster: string, kustomization: string) => `gitops/${cluster}/${kustomization}`,
  helmRelease: (cluster: string, name: string) => `gitops/${cluster}/helmrelease/${name}`,
  diff: (cluster: string) => `gitops/diff/${cluster}`,
  config: () => "gitops/config",
};

export async function setStatus(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  status: { context: string; state: StatusState; description: string; targetUrl?: string },
): Promise<void> {
  await github.rest.repos.createCommitStatus({
    ...repo,
    sha,
    context: status.context,
    state: status.state,
    description: clip(status.description, STATUS_DESCRIPTION_LIMIT),
    ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
  });
}

/** One status as the commit's combined status lists it (the newest per context). */
export interface CommitStatus {
  context: string;
  state: string;
}

/** Statuses read per commit: GitHub's page size; a cluster's contexts are a few of them. */
const COMBINED_STATUS_PAGE = 100;

/**
 * The statuses of one cluster on a commit (one request): its aggregate `gitops/<cluster>` and the per-object
 * ones under it. Throws what GitHub answers: each caller decides what not knowing means.
 */
export async function clusterStatuses(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  cluster: string,
): Promise<{ aggregate: CommitStatus | undefined; objects: CommitStatus[] }> {
  const { data } = await github.rest.repos.getCombinedStatusForRef({
    ...repo,
    ref: sha,
    per_page: COMBINED_STATUS_PAGE,
  });
  const context = statusContext.cluster(cluster);
  return {
    aggregate: data.statuses.find((s) => s.context === context),
    objects: data.statuses.filter((s) => s.context.startsWith(`${context}/`)),
  };
}
