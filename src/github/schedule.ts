// The bot's periodic reconciles on GitHub's side: targets are repository × cluster (with the installation and
// branch a run needs), their objects' timers live in a ReconcileSchedule (src/schedule), a firing becomes a
// `scheduled` job on the work queue under the same key as a push's reconcile (so they never overlap, and a
// push drops a waiting scheduled run). Remembered per target: the branch head's ETag, the revision and outcome
// of the last run (a scheduled run that changes nothing writes nothing), and the last tree fetched. Sources
// (GitRepository, OCIRepository, HelmRepository) get timers of their own on their spec.interval: a firing
// queues a `scheduled` job that checks that source only and reconciles its dependents when its revision moved.
import type { Logger } from "pino";
import { type OperatorConfig, securityLimits } from "../config/operator-config.js";
import type { RepoCluster } from "../config/repo-config.js";
import { InMemoryTimers } from "../queue/in-memory-timers.js";
import type { TimerHandler, Timers } from "../queue/timers.js";
import type { WorkQueue } from "../queue/work-queue.js";
import type { RunResult } from "../reconcile/result.js";
import type { Clock } from "../schedule/clock.js";
import {
  type ObjectTimerPayload,
  type ObservedObject,
  ReconcileSchedule,
  timerId,
} from "../schedule/reconcile-schedule.js";
import type { SourcePoll } from "../schedule/source-poll.js";
import { BranchHeads } from "./branch-head.js";
import { fullName } from "./client.js";
import type { FetchedTree } from "./fetch-tree.js";
import type { GitOpsJob } from "./jobs/types.js";

export interface ScheduledTarget {
  key: string;
  installationId: number;
  owner: string;
  repo: string;
  defaultBranch: string;
  branch: string;
  cluster: RepoCluster;
}

export type ScheduleTimers = Timers<ObjectTimerPayload<ScheduledTarget>>;

export interface LastRun {
  sha: string;
  /** What the run's outcome looked like (statuses, messages, source revisions): a change is reported. */
  outcome: string;
  ok: boolean;
}

/** The key of the work queue that serialises every run of one repository × cluster (pushes use it too). */
export function reconcileQueueKey(job: { owner: string; repo: string }, cluster: string): string {
  return `reconcile:${fullName(job)}:${cluster}`;
}

export class GitHubSchedule {
  readonly schedule: ReconcileSchedule<ScheduledTarget>;
  readonly heads = new BranchHeads();
  private readonly lastRuns = new Map<string, LastRun>();
  private readonly trees = new Map<string, { sha: string; tree: FetchedTree }>();
  /** Per target: the sources the run going on planned, until it ends (afterRun sets their timers). */
  private readonly plannedSources = new Map<string, SourcePoll[]>();
  /** Per source timer: the revision this process last saw (a run's, or a check's). */
  private readonly sourceRevisions = new Map<string, string>();
  /** Source checks since start: how many found the same revision, a new one, or could not read it. */
  readonly sourceChecks = { unchanged: 0, changed: 0, failed: 0 };

  constructor(
    private readonly options: {
      githubHost: string;
      queue: WorkQueue<GitOpsJob>;
      timers: (handler: TimerHandler<ObjectTimerPayload<ScheduledTarget>>) => ScheduleTimers;
      log?: Pick<Logger, "info" | "warn" | "debug">;
      restartSpreadMs?: number;
      now?: () => number;
    },
  ) {
    this.schedule = new ReconcileSchedule<ScheduledTarget>({
      timers: options.timers,
      enqueue: (target, subjects) => this.enqueue(target, subjects),
      checkSource: async (target, poll) => void (await this.enqueue(target, poll.dependents, poll)),
      ...(options.log ? { log: options.log } : {}),
      ...(options.restartSpreadMs !== undefined ? { restartSpreadMs: options.restartSpreadMs } : {}),
    });
  }

  target(job: {
    installationId: number;
    owner: string;
    repo: string;
    defaultBranch: string;
    branch: string;
    cluster: RepoCluster;
  }): ScheduledTarget {
    return {
      key: `${this.options.githubHost}/${fullName(job)}:${job.cluster.name}`.toLowerCase(),
      installationId: job.installationId,
      owner: job.owner,
      repo: job.repo,
      defaultBranch: job.defaultBranch,
      branch: job.branch,
      cluster: job.cluster,
    };
  }

  /** Every object timer set (across replicas, with shared Timers). */
  list(): ReturnType<ScheduleTimers["list"]> {
    return this.schedule.list();
  }

  lastRun(target: ScheduledTarget): LastRun | undefined {
    return this.lastRuns.get(target.key);
  }

  /** A run of `target` at `sha` ended (push, command or schedule): its objects' timers follow its result. */
  async afterRun(target: ScheduledTarget, sha: string, run: RunResult): Promise<void> {
    this.lastRuns.set(target.key, { sha, outcome: runOutcome(run), ok: runOk(run) });
    const objects = observedObjects(run);
    await this.schedule.observe(target, objects);
    const planned = this.plannedSources.get(target.key);
    this.plannedSources.delete(target.key);
    // A run that never planned (its tree did not read) leaves the sources' timers as they were.
    if (planned)
      await this.schedule.observeSources(target, this.sourcesAfterRun(target, planned, run, objects));
  }

  /** The sources the run of `target` going on planned; their timers are set when it ends (afterRun). */
  notePlannedSources(target: ScheduledTarget, polls: SourcePoll[]): void {
    this.plannedSources.set(target.key, polls);
  }

  /** The revision of a source this process last saw (a run's or a check's), if any. */
  sourceRevision(target: ScheduledTarget, subject: string): string | undefined {
    return this.sourceRevisions.get(timerId(target.key, subject));
  }

  recordSourceRevision(target: ScheduledTarget, subject: string, revision: string): void {
    this.sourceRevisions.set(timerId(target.key, subject), revision);
  }

  /**
   * The polls to time after a run: each with the revision the run fetched, and only dependents that are not
   * suspended (a source whose dependents all are is not polled).
   */
  private sourcesAfterRun(
    target: ScheduledTarget,
    planned: SourcePoll[],
    run: RunResult,
    objects: ObservedObject[],
  ): SourcePoll[] {
    const fetched = new Map<string, string | undefined>(
      (run.sources ?? []).map((s) => [`${s.kind}/${s.namespace}/${s.name}`, s.revision]),
    );
    const suspended = new Set(objects.filter((o) => o.status === "Suspended").map((o) => o.subject));
    const out: SourcePoll[] = [];
    for (const poll of planned) {
      const dependents = poll.dependents.filter((d) => !suspended.has(d));
      if (dependents.length === 0) continue;
      const revision = fetched.get(poll.subject);
      if (revision) this.recordSourceRevision(target, poll.subject, revision);
      const known = revision ?? this.sourceRevision(target, poll.subject);
      out.push({ ...poll, dependents, ...(known ? { revision: known } : {}) });
    }
    return out;
  }

  /** The tree of `target` at `sha` when it is the one fetched last; otherwise undefined. */
  cachedTree(target: ScheduledTarget, sha: string): FetchedTree | undefined {
    const cached = this.trees.get(target.key);
    return cached?.sha === sha ? cached.tree : undefined;
  }

  /** Keeps one tree per target (the newest); the one it replaces is removed. */
  keepTree(target: ScheduledTarget, sha: string, tree: FetchedTree): void {
    const old = this.trees.get(target.key);
    if (old && old.tree !== tree) old.tree.cleanup();
    this.trees.set(target.key, { sha, tree });
  }

  async close(): Promise<void> {
    await this.schedule.close();
    for (const { tree } of this.trees.values()) tree.cleanup();
    this.trees.clear();
  }

  /** Queues a scheduled run of `target`; with `source`, a check of that source that runs only when it moved. */
  private async enqueue(target: ScheduledTarget, due: string[], source?: SourcePoll): Promise<boolean> {
    const now = this.options.now?.() ?? Date.now();
    const result = await this.options.queue.enqueue({
      key: reconcileQueueKey(target, target.cluster.name),
      // Never drops a waiting push (its check run waits for it); a newer push drops this one.
      supersedes: false,
      payload: {
        type: "scheduled",
        deliveryId: source
          ? `source:${target.key}:${source.subject}:${now}`
          : `schedule:${target.key}:${now}`,
        installationId: target.installationId,
        owner: target.owner,
        repo: target.repo,
        defaultBranch: target.defaultBranch,
        branch: target.branch,
        cluster: target.cluster,
        due,
        ...(source ? { source } : {}),
      },
    });
    return result.queued;
  }
}

/** Per object: its interval and how the run left it. Objects that left Git (no interval) are not scheduled. */
export function observedObjects(run: RunResult): ObservedObject[] {
  const out: ObservedObject[] = [];
  for (const k of run.kustomizations) {
    if (k.interval)
      out.push({ subject: `Kustomization/${k.namespace}/${k.name}`, status: k.status, ...k.interval });
  }
  for (const h of run.helmReleases ?? []) {
    if (h.interval)
      out.push({ subject: `HelmRelease/${h.namespace}/${h.name}`, status: h.status, ...h.interval });
  }
  return out;
}

function runOk(run: RunResult): boolean {
  return (
    run.errors.length === 0 &&
    run.kustomizations.every((k) => k.status === "Ready" || k.status === "Suspended") &&
    (run.helmReleases ?? []).every((h) => h.status === "Ready" || h.status === "Suspended")
  );
}

/** What a report of the run would say, without timings or change counts: equal strings mean nothing to write. */
export function runOutcome(run: RunResult): string {
  return JSON.stringify({
    errors: run.errors,
    // A Ready object's message is its change summary ("1 created" then "1 unchanged"): changes are reported
    // on their own (runHasChanges), so only other states' messages count here.
    kustomizations: run.kustomizations.map((k) => [
      k.namespace,
      k.name,
      k.status,
      k.status === "Ready" ? "" : k.message,
      k.source ?? "",
    ]),
    helmReleases: (run.helmReleases ?? []).map((h) => [
      h.namespace,
      h.name,
      h.status,
      h.status === "Ready" ? "" : h.message,
      h.chart ?? "",
      h.version ?? "",
      h.source ?? "",
    ]),
    sources: (run.sources ?? []).map((s) => [s.kind, s.namespace, s.name, s.revision ?? "", s.error ?? ""]),
  });
}

export interface ScheduleWiring {
  /** The Timers the schedule uses; default in memory (a shared implementation replaces it: src/queue/timers.ts). */
  timers?: (handler: TimerHandler<ObjectTimerPayload<ScheduledTarget>>) => ScheduleTimers;
  /** For in-memory timers: the clock (tests and the benchmark simulate time) and the jitter's random source. */
  clock?: Clock;
  random?: () => number;
  /** After a restart, objects are reconciled within this delay (default 60 s). */
  restartSpreadMs?: number;
}

/** The process's schedule, from the operator's settings (`schedule`, `security.minInterval`). */
export function createGitHubSchedule(
  operator: OperatorConfig,
  wiring: ScheduleWiring & { githubHost: string; queue: WorkQueue<GitOpsJob>; log: Logger },
): GitHubSchedule {
  const minIntervalMs = securityLimits(operator.security).minIntervalMs;
  return new GitHubSchedule({
    githubHost: wiring.githubHost,
    queue: wiring.queue,
    log: wiring.log,
    ...(wiring.restartSpreadMs !== undefined ? { restartSpreadMs: wiring.restartSpreadMs } : {}),
    ...(wiring.clock ? { now: () => (wiring.clock as Clock).now() } : {}),
    timers:
      wiring.timers ??
      ((handler) =>
        new InMemoryTimers(handler, {
          minIntervalMs,
          jitterPercent: operator.schedule.jitterPercentage,
          log: wiring.log,
          ...(wiring.clock ? { clock: wiring.clock } : {}),
          ...(wiring.random ? { random: wiring.random } : {}),
        })),
  });
}
