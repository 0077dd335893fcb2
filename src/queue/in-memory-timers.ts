// The Timers seam (timers.ts) in one process: a timer per id on a Clock (the system's, or a manual one in tests
// and benchmarks). Every interval is held to the operator's floor (`security.minInterval`) and to what a timer
// can hold whatever the caller passed, and each firing after the first waits the interval with Flux's jitter.
// A firing that comes while the previous one's handler still runs is skipped: a timer never overlaps itself.
import type { Logger } from "pino";
import { clampInterval } from "../flux/duration.js";
import { type Clock, systemClock, type TimerHandle } from "../schedule/clock.js";
import { DEFAULT_JITTER_PERCENT, jitteredInterval } from "../schedule/jitter.js";
import type { TimerHandler, TimerSpec, Timers } from "./timers.js";

export interface InMemoryTimersOptions {
  clock?: Clock;
  /** The shortest interval or first delay honoured (operator `security.minInterval`); default 30 s. */
  minIntervalMs?: number;
  /** ± this percentage on every interval (Flux's `--interval-jitter-percentage`); default 5. */
  jitterPercent?: number;
  /** [0, 1), for jitter; tests pin it. */
  random?: () => number;
  log?: Pick<Logger, "warn" | "debug">;
}

interface Entry<P> {
  spec: Omit<TimerSpec<P>, "firstInMs">;
  handle?: TimerHandle;
  running?: Promise<void>;
  /** Time of the next firing, on the clock. */
  dueAt: number;
}

export const DEFAULT_MIN_INTERVAL_MS = 30_000;

export class InMemoryTimers<P> implements Timers<P> {
  private readonly entries = new Map<string, Entry<P>>();
  private readonly clock: Clock;
  private readonly minIntervalMs: number;
  private readonly jitterPercent: number;
  private readonly random: () => number;
  private closed = false;

  constructor(
    private readonly handler: TimerHandler<P>,
    private readonly options: InMemoryTimersOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.minIntervalMs = Math.max(1, options.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS);
    this.jitterPercent = options.jitterPercent ?? DEFAULT_JITTER_PERCENT;
    this.random = options.random ?? Math.random;
  }

  async set(spec: TimerSpec<P>): Promise<void> {
    if (this.closed) return;
    const everyMs = clampInterval(spec.everyMs, this.minIntervalMs);
    if (everyMs !== spec.everyMs)
      this.options.log?.warn(
        { timer: spec.id, everyMs: spec.everyMs, usedMs: everyMs },
        "timer interval clamped",
      );
    const firstInMs =
      spec.firstInMs === undefined
        ? jitteredInterval(everyMs, this.jitterPercent, this.random)
        : clampInterval(spec.firstInMs, this.minIntervalMs);
    const existing = this.entries.get(spec.id);
    if (existing?.handle) this.clock.clearTimeout(existing.handle);
    const entry: Entry<P> = {
      spec: { id: spec.id, everyMs, payload: spec.payload },
      dueAt: this.clock.now() + firstInMs,
      ...(existing?.running ? { running: existing.running } : {}),
    };
    this.entries.set(spec.id, entry);
    this.arm(entry, firstInMs);
  }

  async clear(id: string): Promise<void> {
    const entry = this.entries.get(id);
    if (entry?.handle) this.clock.clearTimeout(entry.handle);
    this.entries.delete(id);
  }

  async list(): Promise<Array<Omit<TimerSpec<P>, "firstInMs">>> {
    return [...this.entries.values()].map((e) => ({ ...e.spec }));
  }

  /** When a timer fires next, on the clock (tests and `/gitops` replies). */
  dueAt(id: string): number | undefined {
    return this.entries.get(id)?.dueAt;
  }

  async close(): Promise<void> {
    this.closed = true;
    const running: Promise<void>[] = [];
    for (const entry of this.entries.values()) {
      if (entry.handle) this.clock.clearTimeout(entry.handle);
      if (entry.running) running.push(entry.running);
    }
    this.entries.clear();
    await Promise.allSettled(running);
  }

  private arm(entry: Entry<P>, delayMs: number): void {
    entry.handle = this.clock.setTimeout(() => this.fire(entry), delayMs);
  }

  private fire(entry: Entry<P>): void {
    if (this.closed || this.entries.get(entry.spec.id) !== entry) return;
    const next = jitteredInterval(entry.spec.everyMs, this.jitterPercent, this.random);
    entry.dueAt = this.clock.now() + next;
    this.arm(entry, next);
    if (entry.running) {
      this.options.log?.debug({ timer: entry.spec.id }, "timer fired while its last run was busy; skipped");
      return;
    }
    const { payload, id } = entry.spec;
    entry.running = (async () => {
      try {
        await this.handler(payload, id);
      } catch (err) {
        this.options.log?.warn({ err, timer: id }, "timer handler failed; the timer stays");
      } finally {
        entry.running = undefined;
      }
    })();
  }
}
