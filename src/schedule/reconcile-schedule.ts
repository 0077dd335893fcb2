// The per-object schedule: one timer per Kustomization and HelmRelease of every repository × cluster target,
// firing every spec.interval (Flux's jitter applied by the Timers), after a failure every retryInterval, never
// while suspended. A firing asks for one run of its target; firings of one target that come while its run waits
// are one run (a target is reconciled as a whole: dependencies decide the order). Knows nothing about GitHub:
// a target is whatever plain JSON the caller needs to start a run, with a stable `key`. Sources have timers of
// their own too (source-poll.ts), on their own spec.interval: a firing asks the caller to check the source's
// revision (cheap: that source only), and the caller starts a run of its dependents only when it changed.
import type { Logger } from "pino";
import type { TimerHandler, Timers } from "../queue/timers.js";
import type { SourcePoll } from "./source-poll.js";

export interface ScheduleTarget {
  /** Stable and unique per repository × cluster, e.g. `github.com/acme/fleet:dev`. */
  key: string;
}

/** What a timer carries: enough to start its target's run after a restart, on any replica. */
export interface ObjectTimerPayload<T extends ScheduleTarget> {
  target: T;
  /** `Kind/namespace/name` of the object (or, on a source's timer, of the source). */
  subject: string;
  /** Only on a source's timer: what checking its revision needs. */
  source?: SourcePoll;
}

/** One object as a run left it. */
export interface ObservedObject {
  subject: string;
  everyMs: number;
  retryMs: number;
  status: "Ready" | "Failed" | "DependencyNotReady" | "Suspended";
}

export interface ReconcileScheduleOptions<T extends ScheduleTarget> {
  /** Makes the timers the schedule uses, handing them its handler (in memory, or shared through Redis). */
  timers: (handler: TimerHandler<ObjectTimerPayload<T>>) => Timers<ObjectTimerPayload<T>>;
  /** Starts one run of a target (enqueues it); `false` when it was not queued. */
  enqueue: (target: T, subjects: string[]) => Promise<boolean>;
  /**
   * A source's timer fired while no run of its target waits or goes on (those fetch it anyway): check its
   * revision and run its dependents only when it changed. Without it, source timers are not set.
   */
  checkSource?: (target: T, poll: SourcePoll) => Promise<void>;
  log?: Pick<Logger, "info" | "warn" | "debug">;
  /**
   * After a restart nothing says an object's interval until its next run: its timer fires within this delay
   * (spread by `random`) and that run sets the real one. Default 60 s.
   */
  restartSpreadMs?: number;
  random?: () => number;
}

interface Known {
  everyMs: number;
  retryMs: number;
  failing: boolean;
}

export function timerId(targetKey: string, subject: string): string {
  return `reconcile:${targetKey}:${subject}`;
}

export class ReconcileSchedule<T extends ScheduleTarget> {
  private readonly timers: Timers<ObjectTimerPayload<T>>;
  /** What this process last set, per target and subject (objects that left the target lose their timer). */
  private readonly known = new Map<string, Map<string, Known>>();
  /** The sources this process set a timer for, per target. */
  private readonly knownSources = new Map<string, Set<string>>();
  /** Targets with a run queued and not started: their firings join it. */
  private readonly pending = new Map<string, Set<string>>();
  /** Targets with a run going on: it reconciles every object of the target, so their firings are dropped. */
  private readonly running = new Set<string>();
  private readonly random: () => number;

  constructor(private readonly options: ReconcileScheduleOptions<T>) {
    this.timers = options.timers((payload) => this.fired(payload));
    this.random = options.random ?? Math.random;
  }

  /** Records how a run of `target` left its objects and sets their timers accordingly. */
  async observe(target: T, objects: ObservedObject[]): Promise<void> {
    const before = this.known.get(target.key) ?? new Map<string, Known>();
    const after = new Map<string, Known>();
    for (const o of objects) {
      const id = timerId(target.key, o.subject);
      if (o.status === "Suspended") {
        if (before.has(o.subject)) await this.timers.clear(id);
        continue;
      }
      const failing = o.status === "Failed";
      const next: Known = { everyMs: o.everyMs, retryMs: o.retryMs, failing };
      after.set(o.subject, next);
      // Re-armed after every run that reconciled it, as Flux requeues an object after each reconcile: the next
      // run is an interval (after a failure: a retryInterval) from this one, so the objects of one target that
      // a run just reconciled together do not each start a run of their own a moment later.
      await this.timers.set({
        id,
        everyMs: o.everyMs,
        ...(failing ? { firstInMs: o.retryMs } : {}),
        payload: { target, subject: o.subject },
      });
    }
    for (const subject of before.keys())
      if (!after.has(subject)) await this.timers.clear(timerId(target.key, subject));
    if (after.size > 0) this.known.set(target.key, after);
    else this.known.delete(target.key);
  }

  /**
   * Sets the timers of the sources a run of `target` fetched (re-armed from now: the run just fetched them, as
   * source-controller requeues a source after each fetch); sources no longer used lose theirs.
   */
  async observeSources(target: T, polls: SourcePoll[]): Promise<void> {
    if (!this.options.checkSource) return;
    const before = this.knownSources.get(target.key) ?? new Set<string>();
    const after = new Set<string>();
    for (const poll of polls) {
      after.add(poll.subject);
      await this.timers.set({
        id: timerId(target.key, poll.subject),
        everyMs: poll.everyMs,
        payload: { target, subject: poll.subject, source: poll },
      });
    }
    for (const subject of before)
      if (!after.has(subject)) await this.timers.clear(timerId(target.key, subject));
    if (after.size > 0) this.knownSources.set(target.key, after);
    else this.knownSources.delete(target.key);
  }

  /** Stops scheduling a target's objects and sources (its repository left, or the cluster is no longer bound). */
  async forget(targetKey: string): Promise<void> {
    const prefix = timerId(targetKey, "");
    for (const t of await this.timers.list()) if (t.id.startsWith(prefix)) await this.timers.clear(t.id);
    this.known.delete(targetKey);
    this.knownSources.delete(targetKey);
  }

  /** Stops one object's timer (suspended by a command); its next run that finds it resumed sets it again. */
  async pause(targetKey: string, subject: string): Promise<void> {
    await this.timers.clear(timerId(targetKey, subject));
    this.known.get(targetKey)?.delete(subject);
  }

  /**
   * At start-up: every object the clusters' inventories know gets a timer unless the Timers already hold one
   * (a shared implementation keeps them across restarts). Returns how many were set.
   */
  async restore(objects: Array<{ target: T; subjects: string[] }>): Promise<number> {
    const existing = new Set((await this.timers.list()).map((t) => t.id));
    const spread = this.options.restartSpreadMs ?? 60_000;
    let set = 0;
    for (const { target, subjects } of objects) {
      for (const subject of subjects) {
        const id = timerId(target.key, subject);
        if (existing.has(id)) continue;
        await this.timers.set({
          id,
          everyMs: spread,
          firstInMs: Math.round(spread * this.random()),
          payload: { target, subject },
        });
        set++;
      }
    }
    return set;
  }

  /** The target's run has started: firings until it ends are covered by it (it re-arms every timer). */
  started(targetKey: string): void {
    this.pending.delete(targetKey);
    this.running.add(targetKey);
  }

  /** The target's run ended (whatever happened): later firings queue a new one. */
  finished(targetKey: string): void {
    this.running.delete(targetKey);
  }

  /** A waiting run of the target was dropped (a push replaced it): later firings queue a new one. */
  dropped(targetKey: string): void {
    this.pending.delete(targetKey);
  }

  list(): ReturnType<Timers<ObjectTimerPayload<T>>["list"]> {
    return this.timers.list();
  }

  close(): Promise<void> {
    return this.timers.close();
  }

  private async fired({ target, subject, source }: ObjectTimerPayload<T>): Promise<void> {
    if (this.running.has(target.key)) return;
    if (source) {
      // A run that waits fetches the source again: the check would only repeat it.
      if (this.pending.has(target.key) || !this.options.checkSource) return;
      await this.options.checkSource(target, source);
      return;
    }
    const waiting = this.pending.get(target.key);
    if (waiting) {
      waiting.add(subject);
      return;
    }
    const subjects = new Set([subject]);
    this.pending.set(target.key, subjects);
    try {
      const queued = await this.options.enqueue(target, [...subjects]);
      if (!queued) this.pending.delete(target.key);
    } catch (err) {
      this.pending.delete(target.key);
      throw err;
    }
  }
}
