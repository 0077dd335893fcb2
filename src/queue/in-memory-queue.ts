// The default queue: in-process, per-key serialised, bounded and fair across groups (repositories). Enough
// for one replica; state is lost on restart, which is safe because GitHub statuses left pending are re-driven
// by the next push or by `/gitops reconcile`.
import {
  DEFAULT_WORK_QUEUE_LIMITS,
  type EnqueueResult,
  QueueClosedError,
  type QueuedJob,
  type QueueObserver,
  type WorkQueue,
  type WorkQueueHandlers,
  type WorkQueueLimits,
} from "./work-queue.js";

export interface InMemoryQueueOptions<P> extends Partial<WorkQueueLimits> {
  /**
   * The group a job belongs to, for fairness and the per-group bounds (the repository). Jobs with the same
   * key must be in the same group. Default: the job's key.
   */
  groupOf?: (job: QueuedJob<P>) => string;
}

interface Group<P> {
  running: number;
  /** Waiting jobs in arrival order. */
  waiting: QueuedJob<P>[];
}

export class InMemoryQueue<P> implements WorkQueue<P> {
  private readonly limits: WorkQueueLimits;
  private readonly groupOf: (job: QueuedJob<P>) => string;
  private readonly groups = new Map<string, Group<P>>();
  /** Keys with a job running, and the group each key belongs to while it has jobs. */
  private readonly runningKeys = new Set<string>();
  private readonly keyGroups = new Map<string, { group: string; jobs: number }>();
  /** Groups in round-robin order; the next free slot goes to the first runnable group after `lastServed`. */
  private order: string[] = [];
  private lastServed: string | undefined;
  private running = 0;
  private waiting = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly observers: QueueObserver<P>[] = [];
  /** When each waiting job was enqueued, for the time it waited. */
  private readonly enqueuedAt = new WeakMap<QueuedJob<P>, number>();

  constructor(
    private readonly handlers: WorkQueueHandlers<P>,
    options: number | InMemoryQueueOptions<P> = {},
  ) {
    const { groupOf, ...limits } = typeof options === "number" ? { concurrency: options } : options;
    this.limits = { ...DEFAULT_WORK_QUEUE_LIMITS, ...withoutUndefined(limits) };
    this.groupOf = groupOf ?? ((job) => job.key);
  }

  get size() {
    return { running: this.running, waiting: this.waiting };
  }

  observe(observer: QueueObserver<P>): void {
    this.observers.push(observer);
  }

  private tell(notify: (observer: QueueObserver<P>) => void): void {
    for (const observer of this.observers) {
      try {
        notify(observer);
      } catch {
        // A broken metric never stops work.
      }
    }
  }

  async enqueue(job: QueuedJob<P>): Promise<EnqueueResult> {
    if (this.closed) throw new QueueClosedError();
    const groupName = this.keyGroups.get(job.key)?.group ?? this.groupOf(job);
    const group = this.groups.get(groupName) ?? { running: 0, waiting: [] };
    const dropped = job.supersedes ? group.waiting.filter((w) => w.key === job.key) : [];
    const refusal = this.refusal(group, dropped.length);
    if (refusal) {
      this.tell((o) => o.refused?.(job.payload));
      await this.report(job.payload, () => this.handlers.refused?.(job.payload, refusal));
      return { queued: false, reason: refusal };
    }
    if (!this.groups.has(groupName)) {
      this.groups.set(groupName, group);
      this.order.push(groupName);
    }
    if (dropped.length > 0) {
      group.waiting = group.waiting.filter((w) => !dropped.includes(w));
      this.waiting -= dropped.length;
      this.forgetJobs(job.key, dropped.length);
      for (const old of dropped) this.tell((o) => o.superseded?.(old.payload));
    }
    group.waiting.push(job);
    this.waiting++;
    this.enqueuedAt.set(job, performance.now());
    this.tell((o) => o.enqueued?.(job.payload));
    const entry = this.keyGroups.get(job.key);
    if (entry) entry.jobs++;
    else this.keyGroups.set(job.key, { group: groupName, jobs: 1 });
    this.pump();
    for (const old of dropped) {
      await this.report(old.payload, () => this.handlers.superseded?.(old.payload, job.payload));
    }
    return { queued: true };
  }

  private refusal(group: Group<P>, replaced: number): string | undefined {
    const { maxWaiting, maxWaitingPerGroup } = this.limits;
    if (group.waiting.length - replaced >= maxWaitingPerGroup) {
      return `not queued: this repository already has ${group.waiting.length} jobs waiting`;
    }
    if (this.waiting - replaced >= maxWaiting) {
      return `not queued: gitops-bot already has ${this.waiting} jobs waiting`;
    }
    return undefined;
  }

  private async report(payload: P, notify: () => Promise<void> | undefined): Promise<void> {
    try {
      await notify();
    } catch (err) {
      this.handlers.failed?.(payload, err);
    }
  }

  // Fills free slots: round-robin over groups, each below its running bound, each taking its oldest job whose
  // key is not already running.
  private pump(): void {
    while (this.running < this.limits.concurrency) {
      const next = this.nextJob();
      if (!next) break;
      this.start(next.groupName, next.group, next.job);
    }
    this.notifyIdle();
  }

  private nextJob(): { groupName: string; group: Group<P>; job: QueuedJob<P> } | undefined {
    const count = this.order.length;
    const from = this.lastServed === undefined ? 0 : this.order.indexOf(this.lastServed) + 1;
    for (let i = 0; i < count; i++) {
      const groupName = this.order[(from + i) % count];
      if (groupName === undefined) continue;
      const group = this.groups.get(groupName);
      if (!group || group.running >= this.limits.maxRunningPerGroup) continue;
      const job = group.waiting.find((w) => !this.runningKeys.has(w.key));
      if (job) return { groupName, group, job };
    }
    return undefined;
  }

  private start(groupName: string, group: Group<P>, job: QueuedJob<P>): void {
    group.waiting.splice(group.waiting.indexOf(job), 1);
    this.waiting--;
    group.running++;
    this.running++;
    this.runningKeys.add(job.key);
    this.lastServed = groupName;
    const startedAt = performance.now();
    const waitedMs = startedAt - (this.enqueuedAt.get(job) ?? startedAt);
    this.tell((o) => o.started?.(job.payload, waitedMs));
    let ok = true;
    void this.handlers
      .run(job.payload)
      .catch((err: unknown) => {
        ok = false;
        return this.handlers.failed?.(job.payload, err);
      })
      .catch(() => {
        // `failed` itself threw; nothing is left to tell.
      })
      .finally(() => {
        this.tell((o) => o.finished?.(job.payload, performance.now() - startedAt, ok));
        group.running--;
        this.running--;
        this.runningKeys.delete(job.key);
        this.forgetJobs(job.key, 1);
        if (group.running === 0 && group.waiting.length === 0) this.dropGroup(groupName);
        this.pump();
      });
  }

  private forgetJobs(key: string, n: number): void {
    const entry = this.keyGroups.get(key);
    if (!entry) return;
    entry.jobs -= n;
    if (entry.jobs <= 0) this.keyGroups.delete(key);
  }

  private dropGroup(groupName: string): void {
    this.groups.delete(groupName);
    const at = this.order.indexOf(groupName);
    if (at < 0) return;
    this.order.splice(at, 1);
    // Keep the round-robin position: the group after the dropped one is served next.
    if (this.lastServed === groupName) this.lastServed = at > 0 ? this.order[at - 1] : this.order.at(-1);
  }

  private notifyIdle(): void {
    if (this.running > 0 || this.waiting > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  idle(): Promise<void> {
    if (this.running === 0 && this.waiting === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }
}

function withoutUndefined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}
