// The probot application: wires event handlers to the queue and the queue to the jobs, nothing else.
import type { ApplicationFunction } from "probot";
import { ClusterConnections } from "./cluster/connections.js";
import { setKubeTimeouts } from "./cluster/kube-client.js";
import {
  kubeTimeoutsOf,
  loadOperatorConfig,
  type OperatorConfig,
  operatorConfigSchema,
  securityLimits,
} from "./config/operator-config.js";
import { readRedisUrl } from "./config/server-env.js";
import { installedRepositories, queueImageScansForInstallations } from "./github/discover-repositories.js";
import { onIssueComment } from "./github/handlers/issue-comment.js";
import { DIFF_ACTIONS, onPullRequest } from "./github/handlers/pull-request.js";
import { onPush } from "./github/handlers/push.js";
import type { HttpHandler } from "./github/http-routes.js";
import { ImageSchedule } from "./github/image-schedule.js";
import { reportAbandonedJob } from "./github/jobs/abandoned-job.js";
import { closeDuplicateJob } from "./github/jobs/duplicate-job.js";
import { jobGroup, reportRefusedJob } from "./github/jobs/refused-job.js";
import { jobHandlers } from "./github/jobs/run-job.js";
import { restoreSchedule } from "./github/jobs/scheduled-job.js";
import type { GitOpsJob, JobDeps } from "./github/jobs/types.js";
import { RunLifecycle } from "./github/recovery/lifecycle.js";
import { recoverInterruptedRuns } from "./github/recovery/recover-runs.js";
import {
  createGitHubSchedule,
  type GitHubSchedule,
  type ScheduledTarget,
  type ScheduleWiring,
} from "./github/schedule.js";
import type { GitOpsMetrics } from "./metrics/metrics.js";
import { createNotifier, type Notifier, type NotifierOptions } from "./notify/index.js";
import type { DeliveryLog } from "./queue/delivery-log.js";
import { createQueueBackend } from "./queue/select-backend.js";
import type { TimerHandler } from "./queue/timers.js";
import type { WorkQueue } from "./queue/work-queue.js";
import type { ObjectTimerPayload } from "./schedule/reconcile-schedule.js";
import { createOutboundPolicy } from "./util/outbound/index.js";

export interface AppOptions {
  /** Extra HTTP routes (health, metrics) to serve beside the webhook endpoint. */
  routes?: HttpHandler[];
  /** The operator's configuration; default: no clusters. */
  operator?: OperatorConfig;
  /** Engine options for every run. */
  engine?: JobDeps["engine"];
  /** Host of the GitHub this bot serves (github.com or a GHE host). */
  githubHost?: string;
  /** The GitHub App's id (APP_ID): only its own check runs are read back from GitHub. */
  appId?: number;
  /** Find installed repositories at start-up and resume their image scans (the server does; tests do not). */
  discoverOnStart?: boolean;
  /** Re-run or close, at start-up, the runs an earlier process did not finish (src/github/recovery/). */
  recoverOnStart?: boolean;
  /** REDIS_URL: the queue, delivery log and timers shared by several replicas; default from the environment. */
  redisUrl?: string;
  /** The reconcile schedule's timers and clock (tests simulate time); operator `schedule.enabled` turns it off. */
  schedule?: ScheduleWiring;
  /** Called after every image scan, with the pull request action taken. */
  onImageScan?: (automation: string, action: string) => void;
  /** The process's Prometheus metrics (the server's instance); absent: nothing is recorded. */
  metrics?: GitOpsMetrics;
  /** Notification delivery settings (tests shorten retries); the outbound policy is always the operator's. */
  notifications?: Pick<NotifierOptions, "retry" | "rateLimitWindowMs" | "maxTimeoutMs" | "onDelivery">;
}

export interface GitOpsApp {
  appFn: ApplicationFunction;
  queue: WorkQueue<GitOpsJob>;
  deliveries: DeliveryLog;
  /** The runs in flight, for a bounded shutdown (src/github/recovery/shutdown.ts). */
  lifecycle: RunLifecycle;
  /** The reconcile schedule, once probot loaded the app (absent when the operator turned it off). */
  schedule(): GitHubSchedule | undefined;
  /** Stops timers (image scans) and waits for queued work. */
  close(): Promise<void>;
}

export function createGitOpsApp(opts: AppOptions = {}): GitOpsApp {
  const operator = opts.operator ?? operatorConfigSchema.parse({});
  const lifecycle = new RunLifecycle();
  let deps: JobDeps | undefined;
  const loadedDeps = () => {
    if (!deps) throw new Error("gitops-bot is not loaded into probot yet");
    return deps;
  };
  // Bounded and fair per repository: one repository's flood is refused past its bound (and says so in its
  // statuses), and never holds every slot.
  // With REDIS_URL the queue, delivery log and timers are shared by every replica (src/queue/select-backend.ts).
  const backend = createQueueBackend<GitOpsJob>(
    {
      ...jobHandlers(loadedDeps),
      refused: reportRefusedJob(loadedDeps),
      duplicate: closeDuplicateJob(loadedDeps),
      abandoned: reportAbandonedJob(loadedDeps),
    },
    {
      concurrency: operator.concurrency,
      maxWaiting: operator.queue.maxWaiting,
      maxWaitingPerGroup: operator.queue.maxWaitingPerRepository,
      maxRunningPerGroup: operator.queue.maxRunningPerRepository,
      groupOf: (job) => jobGroup(job.payload),
      redisUrl: opts.redisUrl ?? readRedisUrl(process.env),
      // A job enqueued twice for one delivery (a push job re-run on another replica after a crash) is one job;
      // start-up image reads are no deliveries and are superseded instead.
      redis: {
        originOf: ({ payload }) =>
          payload.deliveryId.startsWith("startup:") ? undefined : payload.deliveryId,
      },
      // The app's logger once probot has loaded it (the backend is made before).
      log: {
        warn: (obj, msg) => deps?.log.warn(obj, msg),
        info: (obj, msg) => deps?.log.info(obj, msg),
      },
    },
  );
  const { queue, deliveries } = backend;
  let images: ImageSchedule | undefined;
  let notifier: Notifier | undefined;
  let schedule: GitHubSchedule | undefined;
  const appFn: ApplicationFunction = (app, { addHandler }) => {
    for (const route of opts.routes ?? []) addHandler(route);
    const minIntervalMs = securityLimits(operator.security).minIntervalMs;
    images = operator.images.enabled
      ? new ImageSchedule({
          timers: (handler) => backend.timers("images", handler, { minIntervalMs, log: app.log }),
          // A firing is a job on the queue (any replica runs it), one key per automation.
          fire: async (t) =>
            void (await queue.enqueue({
              key: `images:${t.owner}/${t.repo}:${t.automation}`,
              supersedes: true,
              payload: {
                type: "images",
                deliveryId: `image-scan:${t.owner}/${t.repo}:${t.automation}:${Date.now()}`,
                installationId: t.installationId,
                owner: t.owner,
                repo: t.repo,
                defaultBranch: t.defaultBranch,
                scan: { automation: t.automation },
              },
            })),
          minIntervalMs,
          ...(opts.onImageScan ? { onScan: opts.onImageScan } : {}),
        })
      : undefined;
    // One notifier per process: its queues, retries and Flux's rate limit span every run.
    notifier = createNotifier({
      ...opts.notifications,
      policy: createOutboundPolicy(operator.security.outbound),
      log: app.log,
      onDelivery: (result) => {
        // The scope is `owner/repo:cluster`.
        opts.metrics?.recordNotification(result.type, result.outcome, result.scope.split(":").pop());
        opts.notifications?.onDelivery?.(result);
      },
    });
    schedule = operator.schedule.enabled
      ? createGitHubSchedule(operator, {
          // The backend's timers (shared through Redis with REDIS_URL) unless a test brings its own or a clock.
          ...(opts.schedule?.clock
            ? {}
            : {
                timers: (handler: TimerHandler<ObjectTimerPayload<ScheduledTarget>>) =>
                  backend.timers("reconcile", handler, {
                    minIntervalMs,
                    jitterPercent: operator.schedule.jitterPercentage,
                    log: app.log,
                  }),
              }),
          ...opts.schedule,
          githubHost: opts.githubHost ?? "github.com",
          queue,
          log: app.log,
        })
      : undefined;
    deps = {
      ...(schedule ? { schedule } : {}),
      images,
      notifier,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
      github: (installationId) => app.auth(installationId),
      operator,
      clusters: new ClusterConnections(),
      queue,
      deliveries,
      log: app.log,
      githubHost: opts.githubHost ?? "github.com",
      ...(opts.appId !== undefined ? { appId: opts.appId } : {}),
      engine: opts.engine,
      lifecycle,
    };
    app.on("push", onPush(queue, deliveries));
    app.on("issue_comment.created", onIssueComment(queue, deliveries));
    app.on(
      DIFF_ACTIONS.map((a) => `pull_request.${a}` as const),
      onPullRequest(queue, deliveries),
    );
    app.log.info({ clusters: operator.clusters.map((c) => c.name) }, "gitops-bot loaded");
    // Listed once for both: image scans and the reconcile schedule resume after a restart.
    const installed = opts.discoverOnStart && (images || schedule) ? installedRepositories(app) : undefined;
    installed?.catch(() => undefined); // each user below logs its own failure
    if (images && installed) {
      queueImageScansForInstallations(app, queue, installed)
        .then((n) => app.log.info({ repositories: n }, "image automation: installed repositories queued"))
        .catch((err: unknown) => app.log.warn({ err }, "image automation: cannot list installations"));
    }
    if (schedule && installed) {
      const jobDeps = deps;
      // Rebuilt from the installed repositories and the clusters' inventories (docs/scheduling.md).
      installed
        .then((repositories) => restoreSchedule(repositories, jobDeps))
        .then((timers) => app.log.info({ timers }, "schedule: restored at start-up"))
        .catch((err: unknown) => app.log.warn({ err }, "schedule: cannot restore at start-up"));
    }
    if (opts.recoverOnStart) {
      recoverInterruptedRuns(app, { queue, log: app.log })
        .then((s) => app.log.info(s, "recovery: unfinished runs of an earlier process re-run or closed"))
        .catch((err: unknown) => app.log.warn({ err }, "recovery: cannot list installations"));
    }
  };
  const close = async () => {
    await images?.close();
    await schedule?.close();
    await backend.close();
    // After the queue: the last runs' notifications were queued; what still waits is dropped (and logged).
    await notifier?.close();
  };
  return { appFn, queue, deliveries, lifecycle, schedule: () => schedule, close };
}

/** For `probot run` users: the app with the operator configuration from GITOPS_BOT_CONFIG and GHE_HOST. */
export function createApp(opts: AppOptions = {}): ApplicationFunction {
  const operator = loadOperatorConfig().config;
  setKubeTimeouts(kubeTimeoutsOf(operator));
  const appId = Number(process.env.APP_ID);
  return createGitOpsApp({
    operator,
    githubHost: process.env.GHE_HOST || "github.com",
    ...(Number.isInteger(appId) && appId > 0 ? { appId } : {}),
    ...opts,
  }).appFn;
}

/** `probot run ./dist/index.js`: the configuration is read when probot loads the app, not at import. */
const defaultApp: ApplicationFunction = (app, options) => createApp()(app, options);
export default defaultApp;
