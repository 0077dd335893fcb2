// The GitHub writes of one stream, planned rather than fired per event. Each write has a key (a status
// context, a check run) and a priority: the most important pending write goes first (the cluster's status and
// its check run before per-object statuses), a newer write for the same key replaces one not yet sent (a
// "reconciling" overtaken by the result is never sent), and a write identical to what GitHub already has for
// that key is skipped. One write at a time: GitHub's secondary limits serialise content-creating requests
// anyway, and a queue of our own is what lets a later state overtake an earlier one. Across plans (the push
// job's "queued", the run's result), the process's WriteLedger keeps the same order per key.
import type { Logger } from "pino";
import { rateLimited, requestedDelayMs } from "../octokit.js";
import { processWriteLedger, type WriteLedger } from "./write-ledger.js";
import type { WrittenReports } from "./written-reports.js";

export { rateLimited, requestedDelayMs };

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

/** The key of a commit status write: one current value per repository, commit and context. */
export function statusWriteKey(repository: string, sha: string, context: string): string {
  return `status ${repository}@${sha} ${context}`;
}

/** The key of a check run's writes (its completion) by id: one current value per check run. */
export function checkRunWriteKey(repository: string, sha: string, id: number): string {
  return `check run ${repository}@${sha} ${id}`;
}

export interface RetryPolicy {
  /** Attempts in all, the first included; unbounded when absent (then `giveUpAfterMs` bounds the retries). */
  attempts?: number;
  /** Delay before the n-th retry: base × 3^(n-1), at most `maxDelayMs`, or longer when GitHub asks for it. */
  baseDelayMs: number;
  maxDelayMs?: number;
  /** No retry starts later than this after the first attempt. */
  giveUpAfterMs?: number;
}

// GitHub's incidents last minutes: a report keeps being retried for a quarter of an hour, every 30 s at most,
// so the final statuses arrive once it recovers. The run never waits for them (see stream.ts).
export const defaultRetryPolicy: RetryPolicy = {
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  giveUpAfterMs: 15 * 60_000,
};

/** GitHub's 5xx, its rate limits and network failures are worth another try; other 4xx (refused, invalid) are not. */
export function retryable(err: unknown): boolean {
  const status = (err as { status?: unknown } | undefined)?.status;
  return typeof status !== "number" || status >= 500 || rateLimited(err);
}

/** The delay before retry number `retry` (1 for the first): GitHub's own request wins over our backoff. */
export function retryDelayMs(policy: RetryPolicy, retry: number, err: unknown, now?: number): number {
  const backoff = Math.min(
    policy.baseDelayMs * 3 ** (retry - 1),
    policy.maxDelayMs ?? Number.POSITIVE_INFINITY,
  );
  const asked = rateLimited(err) ? requestedDelayMs(err, now) : undefined;
  return asked === undefined ? backoff : Math.max(asked, policy.baseDelayMs);
}

export class PlannedWrites {
  private readonly pending = new Map<string, PlannedWrite>();
  /** The ledger generation of each pending write. */
  private readonly generations = new WeakMap<PlannedWrite, number>();
  private running: Promise<void> | undefined;
  /** Writes sent, skipped as unchanged, and failed (after retries), for tests and logs. */
  readonly counts = { sent: 0, skipped: 0, failed: 0 };

  constructor(
    private readonly written: WrittenReports,
    private readonly log: Logger,
    private readonly retry: RetryPolicy = defaultRetryPolicy,
    private readonly ledger: WriteLedger = processWriteLedger,
  ) {}

  /** Plans a write; a pending write with the same key (in this plan or another) is replaced. */
  want(write: PlannedWrite): void {
    this.generations.set(write, this.ledger.claim(write.key));
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
      // Skipped when this process already wrote it, and no other plan wrote something else since.
      const last = this.ledger.lastSent(write.key);
      if (
        this.written.get(write.key) === write.fingerprint &&
        (last === undefined || last === write.fingerprint)
      ) {
        this.counts.skipped++;
        continue;
      }
      try {
        if ((await this.sendWithRetry(write)) === "overtaken") {
          this.counts.skipped++;
          continue;
        }
        this.written.set(write.key, write.fingerprint);
        this.counts.sent++;
      } catch (err) {
        this.counts.failed++;
        this.log.warn({ err }, `cannot write ${write.what}`);
      }
    }
  }

  /** Sends `write`, retrying while GitHub fails; "overtaken" when a newer state for its key came meanwhile. */
  private async sendWithRetry(write: PlannedWrite): Promise<"sent" | "overtaken"> {
    const started = Date.now();
    const generation = this.generations.get(write) ?? 0;
    const overtaken = () => !this.ledger.current(write.key, generation);
    for (let attempt = 1; ; attempt++) {
      try {
        if (overtaken()) return "overtaken";
        const sent = await this.ledger.exclusive(write.key, async () => {
          // Another plan's newer state may have been sent while this one waited for the key.
          if (overtaken()) return false;
          await write.send();
          this.ledger.sent(write.key, write.fingerprint);
          return true;
        });
        return sent ? "sent" : "overtaken";
      } catch (err) {
        const { attempts, giveUpAfterMs } = this.retry;
        if (!retryable(err) || (attempts !== undefined && attempt >= attempts)) throw err;
        const delay = retryDelayMs(this.retry, attempt, err);
        if (giveUpAfterMs !== undefined && Date.now() + delay - started > giveUpAfterMs) throw err;
        this.log.info({ err: (err as Error).message }, `${write.what}: retrying in ${delay} ms`);
        await new Promise((resolve) => setTimeout(resolve, delay));
        // A newer state for the same key is pending: send that one instead (it goes in its turn).
        if (this.pending.has(write.key) || overtaken()) return "overtaken";
      }
    }
  }
}
