// `/gitops` commands: only people with write access may run them; the bot acknowledges with 👀 and replies
// only when there is something to say (help, a refusal, a mistake).
import type { Logger } from "pino";
import { listInventories } from "../../cluster/ssa/inventory.js";
import { bindCluster } from "../../config/operator-config.js";
import { clustersForBranch, type RepoCluster, type RepoConfig } from "../../config/repo-config.js";
import { resumeKustomization, suspendKustomization, suspensionRefusal } from "../../reconcile/suspension.js";
import { fullName, type GitHubClient, type RepoRef } from "../client.js";
import { COMMAND_HELP, type GitOpsCommand } from "../commands/parse-command.js";
import { loadRepoConfig } from "../repo-config-loader.js";
import { type CommandJob, type JobDeps, jobRepo, repositoryScope } from "./types.js";

const WRITERS = new Set(["admin", "maintain", "write"]);

export async function canWrite(github: GitHubClient, repo: RepoRef, user: string): Promise<boolean> {
  try {
    const { data } = await github.rest.repos.getCollaboratorPermissionLevel({ ...repo, username: user });
    return WRITERS.has(data.role_name) || WRITERS.has(data.permission);
  } catch (err) {
    // Not a collaborator at all.
    if ((err as { status?: number }).status === 404) return false;
    throw err;
  }
}

export async function runCommandJob(job: CommandJob, deps: JobDeps): Promise<void> {
  const github = await deps.github(job.installationId);
  const repo = jobRepo(job);
  const log = deps.log.child({
    repo: fullName(repo),
    issue: job.issueNumber,
    user: job.user,
    command: job.command.verb,
  });
  const reply = (body: string) =>
    github.rest.issues.createComment({ ...repo, issue_number: job.issueNumber, body });
  if (!(await canWrite(github, repo, job.user))) {
    log.info("command refused: no write access");
    await reply(`@${job.user} \`/gitops\` commands need write access to ${fullName(repo)}.`);
    return;
  }
  const command = job.command;
  const acknowledge = () =>
    github.rest.reactions.createForIssueComment({ ...repo, comment_id: job.commentId, content: "eyes" });
  switch (command.verb) {
    case "help":
      await reply(COMMAND_HELP);
      return;
    case "unknown":
      await reply(`@${job.user} I don't know \`${command.text}\`.\n\n${COMMAND_HELP}`);
      return;
    case "diff": {
      if (!job.isPullRequest) {
        await reply(`@${job.user} \`/gitops diff\` works on pull requests.`);
        return;
      }
      const { data: pr } = await github.rest.pulls.get({ ...repo, pull_number: job.issueNumber });
      await acknowledge();
      await deps.queue.enqueue({
        key: `diff:${fullName(repo)}#${pr.number}`,
        supersedes: true,
        payload: {
          type: "diff",
          deliveryId: job.deliveryId,
          installationId: job.installationId,
          ...repo,
          defaultBranch: job.defaultBranch,
          pullNumber: pr.number,
          baseBranch: pr.base.ref,
          baseSha: pr.base.sha,
          headSha: pr.head.sha,
          fork: pr.head.repo?.full_name !== fullName(repo),
        },
      });
      return;
    }
    case "reconcile": {
      const loaded = await loadRepoConfig(github, repo, job.defaultBranch);
      if (loaded.kind !== "ok") {
        await reply(
          loaded.kind === "absent"
            ? "This repository has no `.github/gitops.yaml` on its default branch."
            : `\`.github/gitops.yaml\` is invalid: ${loaded.error.message}`,
        );
        return;
      }
      const clusters = loaded.config.clusters.filter((c) => !command.cluster || c.name === command.cluster);
      if (clusters.length === 0) {
        await reply(`@${job.user} no cluster named \`${command.cluster}\` in \`.github/gitops.yaml\`.`);
        return;
      }
      await acknowledge();
      await reconcileHeads(github, job, deps, loaded.config, clusters, command.cluster, log);
      return;
    }
    case "suspend":
    case "resume": {
      const loaded = await loadRepoConfig(github, repo, job.defaultBranch);
      if (loaded.kind !== "ok") {
        await reply(
          loaded.kind === "absent"
            ? "This repository has no `.github/gitops.yaml` on its default branch."
            : `\`.github/gitops.yaml\` is invalid: ${loaded.error.message}`,
        );
        return;
      }
      const clusters = loaded.config.clusters.filter((c) => !command.cluster || c.name === command.cluster);
      if (clusters.length === 0) {
        await reply(`@${job.user} no cluster named \`${command.cluster}\` in \`.github/gitops.yaml\`.`);
        return;
      }
      await acknowledge();
      const { lines, changed } = await setSuspension(job, deps, clusters, command);
      log.info({ lines }, `${command.verb} requested`);
      await reply(lines.join("\n"));
      // What was resumed is reconciled now; what was suspended shows as Suspended in the next run's statuses.
      if (command.verb === "resume" && changed)
        await reconcileHeads(github, job, deps, loaded.config, clusters, command.cluster, log);
      return;
    }
    case "images": {
      if (!deps.images) {
        await reply("Image automation is turned off on this gitops-bot server.");
        return;
      }
      await acknowledge();
      // Re-read the automations from the default branch and scan every one of them now.
      await deps.queue.enqueue({
        key: `images:${fullName(repo)}`,
        supersedes: true,
        payload: {
          type: "images",
          deliveryId: job.deliveryId,
          installationId: job.installationId,
          ...repo,
          defaultBranch: job.defaultBranch,
          scan: "all",
        },
      });
      return;
    }
  }
}

/** Queues a push of each branch head the clusters track (all their clusters, or only `onlyCluster`). */
async function reconcileHeads(
  github: GitHubClient,
  job: CommandJob,
  deps: JobDeps,
  config: RepoConfig,
  clusters: RepoCluster[],
  onlyCluster: string | undefined,
  log: Pick<Logger, "info">,
): Promise<void> {
  const repo = jobRepo(job);
  const branches = new Set(clusters.map((c) => c.branch ?? job.defaultBranch));
  for (const branch of branches) {
    const { data: ref } = await github.rest.git.getRef({ ...repo, ref: `heads/${branch}` });
    const bound = clustersForBranch(config, branch, job.defaultBranch).map((c) => c.name);
    log.info({ branch, sha: ref.object.sha, clusters: bound }, "reconcile requested");
    await deps.queue.enqueue({
      key: `push:${fullName(repo)}@refs/heads/${branch}`,
      supersedes: false,
      payload: {
        type: "push",
        deliveryId: job.deliveryId,
        installationId: job.installationId,
        ...repo,
        defaultBranch: job.defaultBranch,
        branch,
        sha: ref.object.sha,
        ...(onlyCluster ? { onlyCluster } : {}),
        queuedAt: new Date().toISOString(),
      },
    });
  }
}

/**
 * Suspends or resumes the Kustomizations a command names on each cluster (one, or every one this repository
 * reconciled there), in the cluster; one line per cluster for the reply. Only Kustomizations whose inventory
 * says they come from this repository are touched: one repository can never stop another's.
 */
async function setSuspension(
  job: CommandJob,
  deps: JobDeps,
  clusters: RepoCluster[],
  command: Extract<GitOpsCommand, { verb: "suspend" | "resume" }>,
): Promise<{ lines: string[]; changed: boolean }> {
  const repo = jobRepo(job);
  const lines: string[] = [];
  let any = false;
  const done = command.verb === "suspend" ? "suspended" : "resumed";
  for (const cluster of clusters) {
    const binding = bindCluster(deps.operator, cluster.name, fullName(repo));
    if (!binding.ok) {
      lines.push(`- \`${cluster.name}\`: ${binding.reason}`);
      continue;
    }
    try {
      const api = deps.clusters.get(binding.cluster);
      const scope = repositoryScope(deps, repo, cluster.path);
      const owners = command.kustomization
        ? [command.kustomization]
        : (await listInventories(api, scope)).map((inv) => inv.owner);
      if (owners.length === 0) {
        lines.push(`- \`${cluster.name}\`: no Kustomization of this repository was reconciled there yet`);
        continue;
      }
      const target = deps.schedule?.target({ ...job, branch: cluster.branch ?? job.defaultBranch, cluster });
      const changed: string[] = [];
      for (const owner of owners) {
        const subject = `Kustomization/${owner.namespace}/${owner.name}`;
        const refusal = await suspensionRefusal(api, owner, scope);
        if (refusal) {
          lines.push(`- \`${cluster.name}\`: not ${done}: ${refusal}`);
          continue;
        }
        if (command.verb === "suspend") {
          await suspendKustomization(api, owner, job.user);
          if (target) await deps.schedule?.schedule.pause(target.key, subject);
        } else {
          await resumeKustomization(api, owner);
        }
        changed.push(`\`${subject}\``);
      }
      if (changed.length > 0) lines.push(`- \`${cluster.name}\`: ${done} ${changed.join(", ")}`);
      any ||= changed.length > 0;
    } catch (err) {
      lines.push(`- \`${cluster.name}\`: not ${done}: ${(err as Error).message}`);
    }
  }
  return { lines, changed: any };
}
