// At start-up, find the repositories the app is installed on: image scans (an images job each) and the reconcile
// schedule (rebuilt from each repository's config and the clusters' inventories) resume after a restart without
// waiting for the next push. Best effort: failures are logged, not fatal.
import type { Probot } from "probot";
import type { WorkQueue } from "../queue/work-queue.js";
import type { GitOpsJob } from "./jobs/types.js";

export async function queueImageScansForInstallations(
  app: Probot,
  queue: WorkQueue<GitOpsJob>,
  repositories: Promise<InstalledRepository[]> = installedRepositories(app),
): Promise<number> {
  let queued = 0;
  for (const r of await repositories) {
    const fullName = `${r.owner}/${r.repo}`;
    await queue.enqueue({
      key: `images:${fullName}`,
      supersedes: true,
      payload: {
        type: "images",
        deliveryId: `startup:${fullName}`,
        installationId: r.installationId,
        owner: r.owner,
        repo: r.repo,
        defaultBranch: r.defaultBranch,
      },
    });
    queued++;
  }
  return queued;
}

export interface InstalledRepository {
  installationId: number;
  owner: string;
  repo: string;
  defaultBranch: string;
}

/** Every repository of every installation, archived and disabled ones left out. */
export async function installedRepositories(app: Probot): Promise<InstalledRepository[]> {
  const appClient = await app.auth();
  const installations = await appClient.paginate(appClient.rest.apps.listInstallations, { per_page: 100 });
  const out: InstalledRepository[] = [];
  for (const installation of installations) {
    const github = await app.auth(installation.id);
    const repositories = await github.paginate(github.rest.apps.listReposAccessibleToInstallation, {
      per_page: 100,
    });
    for (const r of repositories) {
      if (r.archived || r.disabled) continue;
      out.push({
        installationId: installation.id,
        owner: r.owner.login,
        repo: r.name,
        defaultBranch: r.default_branch,
      });
    }
  }
  return out;
}
