// The queue between webhooks and work. Webhook handlers only enqueue (GitHub wants an answer within 10 s);
// the work runs here. Jobs with the same key run one at a time, in order; a newer job may supersede an older
// one that is still waiting. Payloads are plain JSON so that a Redis-backed queue (BullMQ: one queue, a group
// per key) can implement the same interface for several replicas.

export interface QueuedJob<P> {
  /** Jobs with the same key never run at the same time, and run in the order they were enqueued. */
  key: string;
  /** A waiting job with the same key is dropped in favour of this one (a newer commit for the same target). */
  supersedes: boolean;
  payload: P;
}

export interface WorkQueueHandlers<P> {
  run: (payload: P) => Promise<void>;
  /** A waiting job was dropped for a newer one; say so where its users look. */
  superseded?: (dropped: P, by: P) => Promise<void>;
  /** `run` threw: the queue logs nothing itself. */
  failed?: (payload: P, error: unknown) => void;
}

export interface WorkQueue<P> {
  enqueue(job: QueuedJob<P>): Promise<void>;
  /** Resolves when nothing is running or waiting. */
  idle(): Promise<void>;
  /** Stops accepting jobs and waits for the running and waiting ones to finish. */
  close(): Promise<void>;
  readonly size: { running: number; waiting: number };
}
