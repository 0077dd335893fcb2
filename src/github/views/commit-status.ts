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
