// The GitHub writes of one stream, planned rather than fired per event. Each write has a key (a status
// context, a check run) and a priority: the most important pending write goes first (the cluster's status and
// its check run before per-object statuses), a newer write for the same key replaces one not yet sent (a
// "reconciling" overtaken by the result is never sent), and a write identical to what GitHub already has for
// that key is skipped. One write at a time: GitHub's secondary limits serialise content-creating requests
// anyway, and a queue of our own is what lets a later state overtake an earlier one.
import type { Logger } from "pino";
import type { WrittenReports } from "./written-reports.js";

export const priorities = {
  /** The cluster's aggregate status and its check run: what branch protection and people look at first. */
  aggregate: 0,
  /** Deployments and the pull request comment. */
  summary: 1,
  /** Statuses per Kustomization and HelmRelease. */
  object: 2,
} as const;

export interface PlannedWrite {
  /** What is written: a status context on a commit, a check run id, … (one current value per key). */
  key: string;
  priority: number;
  /** Equal fingerprints for the same key mean the same content: not written again. */
  fingerprint: string;
  /** For logs: "status gitops/dev", "check run 12". */
  what: string;
  send: () => Promise<unknown>;
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Delay before the n-th retry: base × 3^(n-1). */
  baseDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 3, baseDelayMs: 500 };

/** GitHub's 5xx and network failures are worth another try; 4xx (refused, invalid) are not. */
export function retryable(err: unknown): boolean {
  const status = (err as { status?: unknown }).status;
  return typeof status !== "number" || status >= 500;
}

export class PlannedWrites {
  private readonly pending = new Map<string, PlannedWrite>();
  private running: Promise<void> | undefined;
  /** Writes sent, skipped as unchanged, and failed (after retries), for tests and logs. */
  readonly counts = { sent: 0, skipped: 0, failed: 0 };

  constructor(
    private readonly written: WrittenReports,
    private readonly log: Logger,
    private readonly retry: RetryPolicy = defaultRetryPolicy,
  ) {}

  /** Plans a write; a pending write with the same key is replaced. */
  want(write: PlannedWrite): void {
    this.pending.set(write.key, write);
    this.running ??= this.pump().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves when every planned write was sent, skipped or given up on. Never rejects. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private next(): PlannedWrite | undefined {
    let best: PlannedWrite | undefined;
    for (const w of this.pending.values()) if (!best || w.priority < best.priority) best = w;
    if (best) this.pending.delete(best.key);
    return best;
  }

  private async pump(): Promise<void> {
    // Let the writes planned in the same turn (a run's result produces several) be ordered together.
    await Promise.resolve();
    for (let write = this.next(); write; write = this.next()) {
      if (this.written.get(write.key) === write.fingerprint) {
        this.counts.skipped++;
        continue;
      }
      try {
        await this.sendWithRetry(write);
        this.written.set(write.key, write.fingerprint);
        this.counts.sent++;
      } catch (err) {
        this.counts.failed++;
        this.log.warn({ err }, `cannot write ${write.what}`);
      }
    }
  }

  private async sendWithRetry(write: PlannedWrite): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await write.send();
        return;
      } catch (err) {
        if (attempt >= this.retry.attempts || !retryable(err)) throw err;
        const delay = this.retry.baseDelayMs * 3 ** (attempt - 1);
        this.log.info({ err }, `${write.what}: retrying in ${delay} ms`);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}
