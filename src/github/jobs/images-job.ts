// Image automation in the bot: read the ImageRepository / ImagePolicy / ImageUpdateAutomation objects of a
// repository's default branch (git data API, no clone), keep one timer per automation on its `interval`
// (github/image-schedule.ts), and scan the automations that are due: new ones (a push, the start-up), the one
// whose timer fired, or all (`/gitops images`). A scan lists tags, applies the policies, and opens or
// refreshes the automation's one pull request. Each scan is a job on the work queue, so with several replicas
// it runs once, on any of them.
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { repositoryAllowed, securityLimits } from "../../config/operator-config.js";
import { loadImageAutomation } from "../../images/load.js";
import { githubRepositoryFiles, syncImageUpdatePullRequest } from "../../images/pull-request.js";
import { credentialsFor, parseDockerConfig } from "../../images/registry/auth.js";
import { RegistryClient } from "../../images/registry/client.js";
import {
  type ImageAutomationObjects,
  type ImageUpdateAutomation,
  objectKey,
} from "../../images/resources.js";
import { latestImages, scanImages } from "../../images/scan.js";
import { imageScanEvents } from "../../reconcile/image-scan-events.js";
import { createOutboundPolicy } from "../../util/outbound/index.js";
import { fullName, type GitHubClient } from "../client.js";
import { loadRepoConfig } from "../repo-config-loader.js";
import { openReportStream } from "../reporters/index.js";
import { type ImagesJob, type JobDeps, jobRepo } from "./types.js";

export async function runImagesJob(job: ImagesJob, deps: JobDeps): Promise<void> {
  const images = deps.images;
  if (!images) return;
  const github = await deps.github(job.installationId);
  const repo = jobRepo(job);
  const log = deps.log.child({ repo: fullName(repo), job: "images" });
  const target = {
    installationId: job.installationId,
    owner: repo.owner,
    repo: repo.repo,
    defaultBranch: job.defaultBranch,
  };
  // Only repositories that opted into gitops-bot, and that the operator allows on some cluster, are scanned:
  // the operator's registry credentials are not for every repository the app is installed on.
  const allowed = deps.operator.clusters.some((c) => repositoryAllowed(c, fullName(repo)));
  if (!allowed || (await loadRepoConfig(github, repo, job.defaultBranch)).kind === "absent") {
    if (!allowed) log.info("repository not allowed on any cluster of this server; image automation skipped");
    await images.scheduleRepository(target, []);
    return;
  }
  const head = (await github.rest.git.getRef({ ...repo, ref: `heads/${job.defaultBranch}` })).data.object.sha;
  const tree = (await github.rest.git.getCommit({ ...repo, commit_sha: head })).data.tree.sha;
  const objects = await loadImageAutomation(
    await githubRepositoryFiles(github, repo.owner, repo.repo, tree),
    "",
  );
  const automations = objects.automations.filter((a) => !a.spec.suspend);
  // One timer per automation; a timer's firing queues this job again for that automation alone.
  const added = await images.scheduleRepository(
    target,
    automations.map((a) => ({ key: objectKey(a), intervalMs: a.spec.intervalMs })),
  );
  const due = automations.filter((a) =>
    job.scan === "all"
      ? true
      : typeof job.scan === "object"
        ? objectKey(a) === job.scan.automation
        : added.includes(objectKey(a)),
  );
  log.info(
    { automations: automations.map(objectKey), scanning: due.map(objectKey) },
    "image automations scheduled",
  );
  const context: ScanContext = { job, deps, github, repo, head, objects, log };
  for (const automation of due) {
    try {
      await scanAutomation(context, automation);
    } catch (err) {
      // The timer stays: the next firing retries. One automation's failure does not stop the others'.
      log.warn({ automation: objectKey(automation), err: (err as Error).message }, "image scan failed");
    }
  }
}

interface ScanContext {
  job: ImagesJob;
  deps: JobDeps;
  github: GitHubClient;
  repo: { owner: string; repo: string };
  head: string;
  objects: ImageAutomationObjects;
  log: Logger;
}

/** Lists tags, applies the policies, and opens or refreshes the automation's one pull request. */
async function scanAutomation(c: ScanContext, automation: ImageUpdateAutomation): Promise<void> {
  const { job, deps, repo, head, objects, log } = c;
  const dockerConfig = deps.operator.images.dockerConfig
    ? parseDockerConfig(
        readFileSync(deps.operator.images.dockerConfig, "utf8"),
        deps.operator.images.dockerConfig,
      )
    : undefined;
  const scanStarted = Date.now();
  const scan = await scanImages(objects, {
    registry: new RegistryClient({
      logger: log,
      policy: createOutboundPolicy(deps.operator.security.outbound),
    }),
    maxTimeoutMs: securityLimits(deps.operator.security).maxSourceTimeoutMs,
    credentials: async (_r, reference) =>
      dockerConfig ? credentialsFor(dockerConfig, reference.registry) : undefined,
    logger: log,
  });
  deps.metrics?.recordImageScanResult(scan, { seconds: (Date.now() - scanStarted) / 1000 });
  // The scan's result on the event stream (logs now; notifications subscribe to the same stream).
  const stream = openReportStream(
    { github: c.github, repo, sha: head, log, kind: "push", pendingStatuses: false },
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
    octokit: c.github,
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
}
