// The process's runs as its shutdown sees them. SIGTERM sets `stopping` (jobs that start from then on hand
// their run back instead of running it), then waits for the running ones within the grace; whatever still runs
// at the end of the grace is interrupted: each running reconcile reports itself cut off (interrupted.ts) and the
// process exits. The engine is not aborted mid-apply (it has no cancellation): the process exit ends it, and
// server-side apply makes the re-run at the next start idempotent.
import type { Logger } from "pino";

/** Reports a running run as cut off; resolves when its reports are written or its bound passed. */
export type Interrupt = () => Promise<void>;

export class RunLifecycle {
  private stoppingSince: number | undefined;
  private readonly running = new Set<Interrupt>();

  /** True once the shutdown began: no new run starts. */
  get stopping(): boolean {
    return this.stoppingSince !== undefined;
  }

  /** Runs in flight. */
  get size(): number {
    return this.running.size;
  }

  beginShutdown(): void {
    this.stoppingSince ??= Date.now();
  }

  /** Registers a running run; call the returned function when it ended. */
  track(interrupt: Interrupt): () => void {
    this.running.add(interrupt);
    return () => this.running.delete(interrupt);
  }

  /** Interrupts every run still in flight, waiting at most `timeoutMs` for their reports. */
  async interruptAll(timeoutMs: number, log?: Logger): Promise<number> {
    const runs = [...this.running];
    this.running.clear();
    if (runs.length === 0) return 0;
    log?.warn(
      { runs: runs.length },
      "shutdown grace over: reporting the runs still in flight as interrupted",
    );
    await withinMs(Promise.allSettled(runs.map((interrupt) => interrupt())), timeoutMs);
    return runs.length;
  }
}

/** Resolves when `work` settles or after `ms`, whichever comes first: true when the work ended. */
export async function withinMs(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// JobDeps carries the lifecycle (src/github/jobs/types.ts is another engineer's file this round: the field is
// declared here until it moves there).
const never = new RunLifecycle();

/** The lifecycle of `deps`, or one that never stops. */
export function lifecycleOf(deps: { lifecycle?: RunLifecycle }): RunLifecycle {
  return deps.lifecycle ?? never;
}
