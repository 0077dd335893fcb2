// The default queue: in-process, per-key serialised, bounded concurrency across keys. Enough for one replica;
// state is lost on restart, which is safe because GitHub statuses left pending are re-driven by the next push
// or by `/gitops reconcile`.
import { semaphore } from "../reconcile/concurrency.js";
import type { QueuedJob, WorkQueue, WorkQueueHandlers } from "./work-queue.js";

interface Lane<P> {
  running: boolean;
  waiting: QueuedJob<P>[];
}

export class InMemoryQueue<P> implements WorkQueue<P> {
  private readonly lanes = new Map<string, Lane<P>>();
  private readonly slots;
  private running = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly handlers: WorkQueueHandlers<P>,
    concurrency = 4,
  ) {
    this.slots = semaphore(concurrency);
  }

  get size() {
    let waiting = 0;
    for (const lane of this.lanes.values()) waiting += lane.waiting.length;
    return { running: this.running, waiting };
  }

  async enqueue(job: QueuedJob<P>): Promise<void> {
    if (this.closed) throw new Error("the work queue is shutting down");
    let lane = this.lanes.get(job.key);
    if (!lane) {
      lane = { running: false, waiting: [] };
      this.lanes.set(job.key, lane);
    }
    const dropped = job.supersedes ? lane.waiting.splice(0) : [];
    lane.waiting.push(job);
    for (const old of dropped) {
      await this.handlers
        .superseded?.(old.payload, job.payload)
        .catch((err) => this.handlers.failed?.(old.payload, err));
    }
    this.pump(job.key);
  }

  private pump(key: string): void {
    const lane = this.lanes.get(key);
    if (!lane || lane.running) return;
    const job = lane.waiting.shift();
    if (!job) {
      this.lanes.delete(key);
      this.notifyIdle();
      return;
    }
    lane.running = true;
    this.running++;
    void (async () => {
      await this.slots.acquire();
      try {
        await this.handlers.run(job.payload);
      } catch (err) {
        this.handlers.failed?.(job.payload, err);
      } finally {
        this.slots.release();
        this.running--;
        lane.running = false;
        this.pump(key);
      }
    })();
  }

  private notifyIdle(): void {
    if (this.lanes.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  idle(): Promise<void> {
    if (this.lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }
}
