// Timers of several replicas: each timer is a BullMQ job scheduler in Redis. The scheduler adds one job per
// firing and one replica's worker takes it, so a timer fires once cluster-wide whichever replica set it, and
// keeps firing when the replica that set it is gone. Setting a timer again (same id) upserts its scheduler.
// A replica killed during a handler loses the job's lock; another replica runs the firing again (stalled-job
// check), so handlers must be idempotent, as image scans and reconciles are.
import { type Job, Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { clampInterval } from "../flux/duration.js";
import { DEFAULT_REDIS_PREFIX, digest, redisKeys } from "./redis-keys.js";
import type { TimerHandler, TimerSpec, Timers } from "./timers.js";

export interface RedisTimersOptions {
  /** An ioredis client with `maxRetriesPerRequest: null`; the caller closes it. */
  connection: Redis;
  prefix?: string;
  /** Which timers these are (one BullMQ queue each): `reconcile`, `images`. Default `timers`. */
  name?: string;
  /** The shortest interval or first delay honoured (operator `security.minInterval`); default 30 s. */
  minIntervalMs?: number;
  /** Handlers running at once on this replica. Default 2. */
  concurrency?: number;
  /** A killed replica's firing is run again elsewhere after this long. Default 15 s. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  log?: { warn: (obj: object, msg: string) => void };
}

/** A firing's data: the caller's id and payload, plain JSON. */
interface Firing<P> {
  id: string;
  everyMs: number;
  payload: P;
}

export class RedisTimers<P> implements Timers<P> {
  private readonly queue: Queue;
  private readonly worker: Worker;
  private readonly minIntervalMs: number;
  private closed = false;

  constructor(
    private readonly handler: TimerHandler<P>,
    private readonly options: RedisTimersOptions,
  ) {
    const prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    const name = options.name ? `${redisKeys(prefix).timers}-${options.name}` : redisKeys(prefix).timers;
    this.minIntervalMs = Math.max(1, options.minIntervalMs ?? 30_000);
    this.queue = new Queue(name, { connection: options.connection, prefix });
    this.worker = new Worker(name, (job: Job<Firing<P>>) => this.fire(job), {
      connection: options.connection,
      prefix,
      concurrency: options.concurrency ?? 2,
      lockDuration: options.lockDurationMs ?? 15_000,
      stalledInterval: options.stalledIntervalMs ?? 5_000,
    });
    this.worker.on("error", (err) => options.log?.warn({ err }, "redis timers: worker error"));
  }

  private async fire(job: Job<Firing<P>>): Promise<void> {
    const { id, payload } = job.data;
    try {
      await this.handler(payload, id);
    } catch (err) {
      // The timer stays; the next firing comes on its interval.
      this.options.log?.warn({ err, timer: id }, "timer handler failed");
    }
  }

  async set(spec: TimerSpec<P>): Promise<void> {
    if (this.closed) return;
    const everyMs = clampInterval(spec.everyMs, this.minIntervalMs);
    if (everyMs !== spec.everyMs) {
      this.options.log?.warn(
        { timer: spec.id, everyMs: spec.everyMs, usedMs: everyMs },
        "timer interval clamped",
      );
    }
    const firstInMs = clampInterval(spec.firstInMs ?? everyMs, this.minIntervalMs);
    const data: Firing<P> = { id: spec.id, everyMs, payload: spec.payload };
    // Scheduler ids become part of BullMQ job ids, which may not hold a colon: a digest of the timer's id.
    await this.queue.upsertJobScheduler(
      digest(spec.id),
      { every: everyMs, startDate: Date.now() + firstInMs },
      { name: "timer", data, opts: { removeOnComplete: true, removeOnFail: true } },
    );
  }

  async clear(id: string): Promise<void> {
    await this.queue.removeJobScheduler(digest(id));
  }

  async list(): Promise<Array<Omit<TimerSpec<P>, "firstInMs">>> {
    const schedulers = await this.queue.getJobSchedulers(0, -1, true);
    return schedulers.flatMap((s) => {
      const data = s.template?.data as Firing<P> | undefined;
      return data ? [{ id: data.id, everyMs: data.everyMs, payload: data.payload }] : [];
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker.close();
    await this.queue.close();
  }
}
