// Runs each automation's scan on its interval and on demand, never two runs of one automation at once.
// The bot owns one scheduler; what a run does (scan, plan, PR) is the task's business. Intervals come from
// repositories, so they are clamped: never below the operator's floor (`interval: 0s` would loop) and never
// past what a Node timer holds (a longer delay fires at once, which loops too).
import type { Logger } from "pino";
import { clampInterval } from "../flux/duration.js";

export interface ScheduledScan {
  /** e.g. `acme/fleet:flux-system/apps` */
  key: string;
  intervalMs: number;
  run: () => Promise<void>;
}

interface Entry {
  task: ScheduledScan;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  /** An on-demand request that arrived during a run: run once more right after. */
  again: boolean;
}

export interface ImageScanSchedulerOptions {
  /** The shortest interval between two runs of a task (operator `security.minInterval`). */
  minIntervalMs?: number;
}

/** Flux's own floor for image scans is none; ours is the operator config's default `minInterval`. */
export const defaultMinScanIntervalMs = 30_000;

export class ImageScanScheduler {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;
  private readonly minIntervalMs: number;

  constructor(
    private readonly logger?: Pick<Logger, "warn">,
    options: ImageScanSchedulerOptions = {},
  ) {
    this.minIntervalMs = Math.max(1, options.minIntervalMs ?? defaultMinScanIntervalMs);
  }

  /** The delay a task waits between runs: its interval, clamped. */
  delayFor(task: ScheduledScan): number {
    return clampInterval(task.intervalMs, this.minIntervalMs);
  }

  /** Replaces the set of tasks: new keys start at once, kept keys keep their timers, gone keys stop. */
  schedule(tasks: readonly ScheduledScan[]): void {
    const keys = new Set(tasks.map((t) => t.key));
    for (const [key, entry] of this.entries) {
      if (!keys.has(key)) {
        clearTimeout(entry.timer);
        this.entries.delete(key);
      }
    }
    for (const task of tasks) {
      const entry = this.entries.get(task.key);
      if (this.delayFor(task) !== task.intervalMs && entry?.task.intervalMs !== task.intervalMs) {
        this.logger?.warn(
          { scan: task.key, intervalMs: task.intervalMs, usedMs: this.delayFor(task) },
          "image scan interval out of bounds; clamped",
        );
      }
      if (entry) entry.task = task;
      else {
        this.entries.set(task.key, { task, again: false });
        void this.runNow(task.key);
      }
    }
  }

  /** Runs a task now (a webhook or a comment asked); joins the current run and queues one more if busy. */
  runNow(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry || this.stopped) return Promise.resolve();
    if (entry.running) {
      entry.again = true;
      return entry.running;
    }
    clearTimeout(entry.timer);
    entry.running = this.execute(entry);
    return entry.running;
  }

  stop(): void {
    this.stopped = true;
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
    this.entries.clear();
  }

  private async execute(entry: Entry): Promise<void> {
    do {
      entry.again = false;
      try {
        await entry.task.run();
      } catch (error) {
        this.logger?.warn({ scan: entry.task.key, error: (error as Error).message }, "image scan failed");
      }
    } while (entry.again && !this.stopped);
    entry.running = undefined;
    if (this.stopped || this.entries.get(entry.task.key) !== entry) return;
    entry.timer = setTimeout(() => void this.runNow(entry.task.key), this.delayFor(entry.task));
    entry.timer.unref?.();
  }
}
