// GitHub Deployments for clusters bound to an environment in .github/gitops.yaml: one deployment per reconcile,
// so the repository's Environments page shows what runs where.
import type { GitHubClient, RepoRef } from "../client.js";

export async function createDeployment(
  github: GitHubClient,
  repo: RepoRef,
  sha: string,
  environment: string,
  cluster: string,
): Promise<number | undefined> {
  const { data } = await github.rest.repos.createDeployment({
    ...repo,
    ref: sha,
    environment,
    auto_merge: false,
    // Our own statuses are what this deployment reports; do not wait for them.
    required_contexts: [],
    description: `gitops-bot reconcile of cluster ${cluster}`,
    payload: { cluster },
  });
  return "id" in data ? data.id : undefined;
}

export async function setDeploymentState(
  github: GitHubClient,
  repo: RepoRef,
  deploymentId: number,
  state: "in_progress" | "success" | "failure" | "error" | "inactive",
  description: string,
): Promise<void> {
  await github.rest.repos.createDeploymentStatus({
    ...repo,
    deployment_id: deploymentId,
    state,
    description: description.slice(0, 140),
  });
}
