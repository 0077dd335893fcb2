// Work the webhook handlers hand to the queue: plain JSON, so a Redis-backed queue can carry it between
// replicas. Everything else a job needs (GitHub client, clusters, configuration) comes from JobDeps.
import type { Logger } from "pino";
import type { ClusterConnections } from "../../cluster/connections.js";
import type { OperatorConfig } from "../../config/operator-config.js";
import type { RepoCluster } from "../../config/repo-config.js";
import type { GitOpsMetrics } from "../../metrics/metrics.js";
import type { Notifier } from "../../notify/deliver.js";
import type { DeliveryLog } from "../../queue/delivery-log.js";
import type { WorkQueue } from "../../queue/work-queue.js";
import type { ReconcileOptions } from "../../reconcile/run.js";
import { inventoryScope } from "../../reconcile/scope.js";
import type { SourcePoll } from "../../schedule/source-poll.js";
import type { GitHubClient } from "../client.js";
import type { GitOpsCommand } from "../commands/parse-command.js";
import type { ImageSchedule } from "../image-schedule.js";
import type { RunLifecycle } from "../recovery/lifecycle.js";
import type { GitHubSchedule } from "../schedule.js";

interface RepoJob {
  deliveryId: string;
  installationId: number;
  owner: string;
  repo: string;
  defaultBranch: string;
}

/** A push to a branch: read the repository's config, then queue one reconcile per bound cluster. */
export interface PushJob extends RepoJob {
  type: "push";
  branch: string;
  sha: string;
  /** Reconcile only this cluster (`/gitops reconcile <cluster>`). */
  onlyCluster?: string;
  /** When it was queued (ISO 8601), kept across restarts; absent in jobs an older version queued. */
  queuedAt?: string;
}

/** A `/gitops` command from a comment; the author's permission is checked before anything runs. */
export interface CommandJob extends RepoJob {
  type: "command";
  issueNumber: number;
  isPullRequest: boolean;
  commentId: number;
  user: string;
  command: GitOpsCommand;
}

/** Reconcile one cluster at one commit. */
export interface ReconcileJob extends RepoJob {
  type: "reconcile";
  branch: string;
  sha: string;
  cluster: RepoCluster;
  checkRunId: number;
}

/**
 * A periodic reconcile of one cluster from its branch head (objects' spec.interval, retryInterval after a
 * failure): queued by the schedule (src/github/schedule.ts) under the same key as a push's reconcile.
 */
export interface ScheduledJob extends RepoJob {
  type: "scheduled";
  branch: string;
  cluster: RepoCluster;
  /** The objects whose timers fired (`Kind/namespace/name`), for the log. */
  due: string[];
  /** A source's own timer fired: its revision is checked first, and `due` (its dependents) run only if it moved. */
  source?: SourcePoll;
}

/** Dry-run a pull request's head against every cluster its base branch drives. */
export interface DiffJob extends RepoJob {
  type: "diff";
  pullNumber: number;
  baseBranch: string;
  baseSha: string;
  headSha: string;
  fork: boolean;
}

/** Read a repository's image automations from its default branch and (re)schedule their scans. */
export interface ImagesJob extends RepoJob {
  type: "images";
  /**
   * Which automations to scan now: those without a timer yet (default: a push, the start-up), all
   * (`/gitops images`), or one whose timer fired.
   */
  scan?: "new" | "all" | { automation: string };
}

export type GitOpsJob = PushJob | ReconcileJob | DiffJob | ImagesJob | CommandJob | ScheduledJob;

export interface JobDeps {
  github: (installationId: number) => Promise<GitHubClient>;
  operator: OperatorConfig;
  clusters: ClusterConnections;
  queue: WorkQueue<GitOpsJob>;
  deliveries: DeliveryLog;
  log: Logger;
  /** Host name of the GitHub this bot serves (github.com or a GHE host), for inventory scopes. */
  githubHost: string;
  /** The GitHub App's id (APP_ID): check runs of other apps with our names are not read as ours; absent: by name. */
  appId?: number;
  /** The process's runs, for a bounded shutdown; absent (tests, embedders): never stopping. */
  lifecycle?: RunLifecycle;
  /** Image automation scans; absent when the operator turned image automation off. */
  images?: ImageSchedule;
  /** Engine options for every run (e.g. concurrency); tests shorten timeouts here. */
  engine?: Partial<ReconcileOptions>;
  /** The process's notifier (Flux Providers and Alerts); absent: no notifications are sent. */
  notifier?: Notifier;
  /** The process's Prometheus metrics; absent: nothing is recorded. */
  metrics?: GitOpsMetrics;
  /** Periodic reconciles (spec.interval); absent: the bot reconciles on pushes and commands only. */
  schedule?: GitHubSchedule;
}

/** The inventory scope of a cluster path of a GitHub repository (the CLI on a clone computes the same). */
export function repositoryScope(
  deps: Pick<JobDeps, "githubHost">,
  job: { owner: string; repo: string },
  clusterPath: string,
): string {
  return inventoryScope(`${deps.githubHost}/${job.owner}/${job.repo}`.toLowerCase(), clusterPath);
}

export function jobRepo(job: { owner: string; repo: string }) {
  return { owner: job.owner, repo: job.repo };
}
