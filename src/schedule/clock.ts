// Time as the schedule sees it: the system's timers in production, a manual clock in tests and the schedule
// benchmark (simulated hours run in milliseconds, deterministic).

import { MAX_TIMER_MS } from "../flux/duration.js";

export type TimerHandle = { readonly id: number };

export interface Clock {
  now(): number;
  /** Calls `fn` once after `ms`; an unref'd timer in production (it never keeps the process alive). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

let nextHandle = 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    // Past Node's 32-bit range a timer fires after 1 ms (a loop): a jittered maximal interval must not.
    const timer = setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    timer.unref?.();
    return { id: nextHandle++, timer } as TimerHandle & { timer: NodeJS.Timeout };
  },
  clearTimeout(handle) {
    clearTimeout((handle as TimerHandle & { timer?: NodeJS.Timeout }).timer);
  },
};

interface Pending {
  handle: TimerHandle;
  at: number;
  fn: () => void;
}

/** A clock that only moves when told to; timers due on the way fire in time order. */
export class ManualClock implements Clock {
  private current: number;
  private readonly pending = new Map<number, Pending>();

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = { id: nextHandle++ };
    this.pending.set(handle.id, { handle, at: this.current + Math.max(0, ms), fn });
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle.id);
  }

  /** Timers waiting to fire. */
  get waiting(): number {
    return this.pending.size;
  }

  /**
   * Moves time forward by `ms`, firing each timer due on the way at its own time, and lets the work each one
   * started run (`settle`, default: a few turns of the event loop) before the next.
   */
  async advance(ms: number, settle: () => Promise<void> = flushEventLoop): Promise<void> {
    const end = this.current + ms;
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.pending.values()) if (p.at <= end && (!next || p.at < next.at)) next = p;
      if (!next) break;
      this.pending.delete(next.handle.id);
      this.current = Math.max(this.current, next.at);
      next.fn();
      await settle();
    }
    this.current = end;
    await settle();
  }
}

async function flushEventLoop(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
