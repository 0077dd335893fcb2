// Image automation in the bot: read the ImageRepository / ImagePolicy / ImageUpdateAutomation objects of a
// repository's default branch (git data API, no clone), and (re)schedule one scan per automation on its
// `interval`. A scan lists tags, applies the policies, and opens or refreshes the automation's one pull request.
import { readFileSync } from "node:fs";
import { repositoryAllowed, securityLimits } from "../../config/operator-config.js";
import { loadImageAutomation } from "../../images/load.js";
import { githubRepositoryFiles, syncImageUpdatePullRequest } from "../../images/pull-request.js";
import { credentialsFor, parseDockerConfig } from "../../images/registry/auth.js";
import { RegistryClient } from "../../images/registry/client.js";
import { objectKey } from "../../images/resources.js";
import { latestImages, scanImages } from "../../images/scan.js";
import type { ScheduledScan } from "../../images/scheduler.js";
import { imageScanEvents } from "../../reconcile/image-scan-events.js";
import { createOutboundPolicy } from "../../util/outbound/index.js";
import { fullName } from "../client.js";
import { loadRepoConfig } from "../repo-config-loader.js";
import { openReportStream } from "../reporters/index.js";
import { type ImagesJob, type JobDeps, jobRepo } from "./types.js";

export async function runImagesJob(job: ImagesJob, deps: JobDeps): Promise<void> {
  if (!deps.images) return;
  const github = await deps.github(job.installationId);
  const repo = jobRepo(job);
  const log = deps.log.child({ repo: fullName(repo), job: "images" });
  // Only repositories that opted into gitops-bot, and that the operator allows on some cluster, are scanned:
  // the operator's registry credentials are not for every repository the app is installed on.
  const allowed = deps.operator.clusters.some((c) => repositoryAllowed(c, fullName(repo)));
  if (!allowed || (await loadRepoConfig(github, repo, job.defaultBranch)).kind === "absent") {
    if (!allowed) log.info("repository not allowed on any cluster of this server; image automation skipped");
    deps.images.scheduleRepository(fullName(repo), []);
    return;
  }
  const head = (await github.rest.git.getRef({ ...repo, ref: `heads/${job.defaultBranch}` })).data.object.sha;
  const tree = (await github.rest.git.getCommit({ ...repo, commit_sha: head })).data.tree.sha;
  const objects = await loadImageAutomation(
    await githubRepositoryFiles(github, repo.owner, repo.repo, tree),
    "",
  );
  const dockerConfig = deps.operator.images.dockerConfig
    ? parseDockerConfig(
        readFileSync(deps.operator.images.dockerConfig, "utf8"),
        deps.operator.images.dockerConfig,
      )
    : undefined;
  const outbound = createOutboundPolicy(deps.operator.security.outbound);
  const tasks: ScheduledScan[] = objects.automations
    .filter((a) => !a.spec.suspend)
    .map((automation) => ({
      key: `${fullName(repo)}:${objectKey(automation)}`,
      intervalMs: automation.spec.intervalMs,
      run: async () => {
        const scanStarted = Date.now();
        const scan = await scanImages(objects, {
          registry: new RegistryClient({ logger: log, policy: outbound }),
          maxTimeoutMs: securityLimits(deps.operator.security).maxSourceTimeoutMs,
          credentials: async (_r, reference) =>
            dockerConfig ? credentialsFor(dockerConfig, reference.registry) : undefined,
          logger: log,
        });
        deps.metrics?.recordImageScanResult(scan, { seconds: (Date.now() - scanStarted) / 1000 });
        // The scan's result on the event stream (logs now; notifications subscribe to the same stream).
        const stream = openReportStream(
          { github, repo, sha: head, log, kind: "push", pendingStatuses: false },
          { only: ["log"] },
        );
        const metadata = {
          revision: `${job.defaultBranch}@sha1:${head}`,
          commit: head,
          repository: fullName(repo),
        };
        for (const event of imageScanEvents(scan, metadata)) stream.emit("", event);
        await stream.close();
        const outcome = await syncImageUpdatePullRequest({
          // A fresh installation client per scan: tokens expire, scans run for days.
          octokit: await deps.github(job.installationId),
          ...repo,
          automation,
          latest: latestImages(scan.policies),
          baseBranch: automation.spec.git?.checkout?.ref?.branch ?? job.defaultBranch,
          logger: log,
        });
        log.info(
          { automation: objectKey(automation), action: outcome.action, pull: outcome.number },
          "image update scan done",
        );
        deps.images?.onScan?.(objectKey(automation), outcome.action);
      },
    }));
  log.info({ automations: tasks.map((t) => t.key) }, "image automations scheduled");
  deps.images.scheduleRepository(fullName(repo), tasks);
}
