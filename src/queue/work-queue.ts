// The queue between webhooks and work. Webhook handlers only enqueue (GitHub wants an answer within 10 s);
// the work runs here. Jobs with the same key run one at a time, in order; a newer job may supersede an older
// one that is still waiting. The queue is bounded (jobs waiting in all, and per group) and fair: a group (a
// repository) runs at most a few jobs at once, and free slots go round-robin across groups, so one repository
// can never hold every slot or starve the others. Payloads are plain JSON so that a Redis-backed queue (BullMQ:
// one queue, a group per key) can implement the same interface for several replicas.

export interface QueuedJob<P> {
  /** Jobs with the same key never run at the same time, and run in the order they were enqueued. */
  key: string;
  /** A waiting job with the same key is dropped in favour of this one (a newer commit for the same target). */
  supersedes: boolean;
  payload: P;
  /**
   * Redis queue: when another replica holds this job's origin (it is between reserving and adding it, or died
   * there), wait the hold out (up to 11 s) instead of refusing at once. A job that holds its own key's order (a
   * push job queuing its reconcile) waits; a webhook refuses (5xx, so that GitHub's redelivery comes later and
   * the next push is not queued before it).
   */
  waitIfHeld?: boolean;
}

/** What a queue says about one start of a job. */
export interface RunInfo {
  /**
   * The job ran before and did not finish: the replica running it was lost (Redis queue, stalled-job check).
   * Whatever that first start wrote to GitHub may be there; a handler looks before writing it again.
   */
  restarted: boolean;
}

export interface WorkQueueHandlers<P> {
  run: (payload: P, info?: RunInfo) => Promise<void>;
  /** A waiting job was dropped for a newer one; say so where its users look. */
  superseded?: (dropped: P, by: P) => Promise<void>;
  /** A job was not queued (a bound was reached); say so where its users look. `reason` is one line. */
  refused?: (payload: P, reason: string) => Promise<void>;
  /**
   * A job was not queued because the job of the same origin (delivery) and key already was, or already ran: a
   * step re-run after a lost replica. `kept` is that job's payload while it is retained. Only queues that know
   * origins (the Redis one) call it; close whatever `dropped` opened (a second check run), write no status.
   */
  duplicate?: (dropped: P, kept: P | undefined) => Promise<void>;
  /**
   * The queue gave a job up without a result: it was started and lost more often than the queue allows (Redis
   * queue: BullMQ's stalled-job check found its lock expired more than `maxStalledCount` times — the replica
   * running it was killed, or blocked its event loop past the lock, each time). Whatever its lost starts wrote
   * to GitHub may be there (an open check run); close it with a final, failing status: the job is not known
   * to be done and will not run again. `reason` is one line (how often it was lost). Never called for a run
   * that threw (`run` reports that itself). The in-memory queue never calls it: its jobs are lost only with
   * the process, and the start-up recovery (src/github/recovery/) closes what they left open.
   */
  abandoned?: (payload: P, reason: string) => Promise<void>;
  /**
   * `run` (or `superseded`, `refused`, `duplicate`, `abandoned`) threw, or the queue gave the job up (after
   * `abandoned`, with the queue's error): the queue logs nothing itself.
   */
  failed?: (payload: P, error: unknown) => void;
}

/** What `enqueue` rejects with once the queue is closing: callers tell it from other failures by type. */
export class QueueClosedError extends Error {
  override name = "QueueClosedError";
  constructor() {
    super("the work queue is shutting down");
  }
}

export type EnqueueResult = { queued: true } | { queued: false; reason: string };

export interface WorkQueue<P> {
  /**
   * Queues a job, or refuses it when a bound is reached (after `refused` has reported it). Rejects only when
   * the queue is shutting down.
   */
  enqueue(job: QueuedJob<P>): Promise<EnqueueResult>;
  /** Resolves when nothing is running or waiting. */
  idle(): Promise<void>;
  /** Stops accepting jobs and waits for the running and waiting ones to finish. */
  close(): Promise<void>;
  readonly size: { running: number; waiting: number };
  /** Tells `observer` what happens to every job from now on (metrics); several observers may watch. */
  observe?(observer: QueueObserver<P>): void;
}

/**
 * What a queue reports about its jobs, for metrics. Called synchronously; an observer that throws is ignored
 * (a broken metric must never stop work). Times are in milliseconds.
 */
export interface QueueObserver<P> {
  /** A job was accepted and is waiting. */
  enqueued?(payload: P): void;
  /** A job was not accepted: a bound was reached. */
  refused?(payload: P): void;
  /** A waiting job was dropped for a newer one with the same key. */
  superseded?(payload: P): void;
  /** A job left the queue and started, after waiting `waitedMs`. */
  started?(payload: P, waitedMs: number): void;
  /** A job's run ended after `ranMs`; `ok` is false when it threw. */
  finished?(payload: P, ranMs: number, ok: boolean): void;
  /**
   * The queue gave a job up after losing it too often (see WorkQueueHandlers.abandoned), on whichever replica
   * took it out of the queue: it ended without a finished run (its lost starts told `started` where they ran,
   * and `finished` only if that replica was blocked, not killed, and its run came back).
   */
  abandoned?(payload: P): void;
}

/** The bounds of a queue; the operator's `queue` section and `concurrency`. */
export interface WorkQueueLimits {
  /** Jobs running at once, across all groups. */
  concurrency: number;
  /** Jobs waiting across all groups; more are refused. */
  maxWaiting: number;
  /** Jobs waiting per group; more are refused. */
  maxWaitingPerGroup: number;
  /** Jobs one group may run at once. */
  maxRunningPerGroup: number;
}

export const DEFAULT_WORK_QUEUE_LIMITS: WorkQueueLimits = {
  concurrency: 4,
  maxWaiting: 1000,
  maxWaitingPerGroup: 50,
  maxRunningPerGroup: 2,
};
