// The queue of several replicas: jobs live in Redis, in BullMQ queues, and any replica runs them.
//
// Per-key order without BullMQ Pro's groups: a key always hashes to the same one of N shard queues, and each
// shard runs one job at a time cluster-wide (BullMQ's global concurrency 1), in arrival order. So the jobs of a
// key never overlap and run in the order they were enqueued, whichever replica enqueued or runs them; the
// cluster runs at most N jobs at once (`shards`).
//
// Supersede: each key numbers its jobs (INCR); a superseding job records itself as the key's latest. At
// enqueue the waiting job it replaces is claimed (removed from the waiting set, then from BullMQ) and reported
// superseded; a job that starts while a newer one of its key exists (a race between replicas, or a restart
// after a crash) is reported superseded instead of run. So an older commit never applies after a newer one.
//
// Exactly once: a job enqueued twice from the same origin (a webhook delivery) and key is one job — the
// origin is remembered in Redis for `retainMs` and doubles as the BullMQ job id. A replica killed mid-job
// stops renewing its job's lock; after `lockDurationMs` BullMQ's stalled-job check (on every replica) puts the
// job back at the head of its shard and another replica runs it from the start (runs are idempotent: apply is
// server-side apply). A job that stalls more than `maxStalledCount` times is given up: BullMQ fails it, and
// `abandoned` closes what its lost starts left open on GitHub with a final, failing status.
//
// Bounds: waiting jobs are counted per group and in all in Redis sets (one entry per job id, so a retried
// step never counts twice) and checked atomically at enqueue. Fairness across groups is by hashing: one
// repository's keys spread over the shards and its flood is bounded by `maxWaitingPerGroup`; a shard is FIFO,
// so a slow job delays the other keys of its shard (documented in docs/architecture.md).
import { randomUUID } from "node:crypto";
import { type Job, Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { DEFAULT_REDIS_PREFIX, digest, redisKeys, shardOf } from "./redis-keys.js";
import {
  DEFAULT_WORK_QUEUE_LIMITS,
  type EnqueueResult,
  QueueClosedError,
  type QueuedJob,
  type QueueObserver,
  type WorkQueue,
  type WorkQueueHandlers,
  type WorkQueueLimits,
} from "./work-queue.js";

export interface RedisQueueOptions<P> extends Partial<WorkQueueLimits> {
  /** An ioredis client with `maxRetriesPerRequest: null` (BullMQ's workers need it); the caller closes it. */
  connection: Redis;
  /** Prefix of every key, so that several bots can share one Redis. */
  prefix?: string;
  /** Shard queues: jobs the whole cluster runs at once. Default 16. Every replica must use the same. */
  shards?: number;
  /** The group of a job (the repository), for the per-group bound. Default: the job's key. */
  groupOf?: (job: QueuedJob<P>) => string;
  /** Where a job comes from (a webhook delivery id): the same origin and key enqueued twice is one job. */
  originOf?: (job: QueuedJob<P>) => string | undefined;
  /** A replica that stops renewing a job's lock (killed) loses it after this long. Default 15 s. */
  lockDurationMs?: number;
  /** How often each replica looks for jobs whose lock expired. Default 5 s. */
  stalledIntervalMs?: number;
  /** Restarts of a job after a lost replica; lost once more, it is given up (`abandoned`). Default 3. */
  maxStalledCount?: number;
  /** How long an origin is remembered (and a done job kept). Default 24 h. */
  retainMs?: number;
  /** Where BullMQ's connection errors (and, at info, the rare skips and duplicates) go. */
  log?: { warn: (obj: object, msg: string) => void; info?: (obj: object, msg: string) => void };
}

/** How long a reserved origin waits for its job to be added before a redelivery may queue it again. */
const PENDING_ORIGIN_MS = 10_000;

/** What a job is in Redis: plain JSON. */
interface StoredJob<P> {
  key: string;
  group: string;
  seq: number;
  supersedes: boolean;
  enqueuedAt: number;
  payload: P;
}

/**
 * Whether BullMQ failed `job` because its lock expired (its replica was lost) more than `maxStalledCount`
 * times, not because a run threw. BullMQ counts the losses in the job (`stalledCounter`) and fails it, without
 * running it, when a worker next takes it (a deferred failure, "job stalled more than allowable limit").
 */
function lostTooOften(job: Job, maxStalledCount: number): boolean {
  return (job.stalledCounter ?? 0) > maxStalledCount;
}

/** The one line `abandoned` is given: how often the job was lost (short: it goes into a commit status). */
export function abandonedReason(lost: number): string {
  return `lost ${lost} times (its replica stopped while running it)`;
}

/** A run that threw and was reported by `failed` already (BullMQ's failed event must not report it again). */
class ReportedJobError extends Error {
  override name = "ReportedJobError";
}

// Reserves a place for a job: refuses a second job from the same origin and key, checks the bounds (a waiting
// job this one replaces does not count), records the job as waiting and numbers it.
// The origin is held as 'pending' for `pendingMs` only, until the job is in BullMQ (then kept for retainMs):
// a replica killed between the two must not leave a mark that refuses the redelivery for a day.
// KEYS: waitingGroup, waitingAll, latest, origin, sequence. ARGV: jobId, maxPerGroup, maxAll, supersedes, pendingMs.
const RESERVE = `
if not redis.call('SET', KEYS[4], 'pending', 'NX', 'PX', ARGV[5]) then return {'duplicate', 0, 0} end
local replaced = 0
if ARGV[4] == '1' then
  local latest = redis.call('HGET', KEYS[3], 'id')
  if latest and redis.call('SISMEMBER', KEYS[1], latest) == 1 then replaced = 1 end
end
local g = redis.call('SCARD', KEYS[1])
if g - replaced >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[4]); return {'group', g, 0} end
local a = redis.call('SCARD', KEYS[2])
if a - replaced >= tonumber(ARGV[3]) then redis.call('DEL', KEYS[4]); return {'all', a, 0} end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
return {'ok', redis.call('INCR', KEYS[5]), a + 1}
`;

// Makes a job its key's latest unless a newer one already is; returns the previous latest {id, payload}.
// KEYS: latest. ARGV: seq, id, payload, retainMs.
const SET_LATEST = `
local prev = redis.call('HMGET', KEYS[1], 'seq', 'id', 'payload')
if prev[1] and tonumber(prev[1]) > tonumber(ARGV[1]) then return {} end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'id', ARGV[2], 'payload', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if prev[2] then return {prev[2], prev[3]} end
return {}
`;

// Takes a job out of the waiting sets; 1 if it was still there (0: a superseding job claimed it, or it ran before).
// KEYS: waitingGroup, waitingAll. ARGV: jobId.
const TAKE = `
redis.call('SREM', KEYS[2], ARGV[1])
return redis.call('SREM', KEYS[1], ARGV[1])
`;

export class RedisQueue<P> implements WorkQueue<P> {
  private readonly limits: WorkQueueLimits;
  private readonly redis: Redis;
  private readonly keys: ReturnType<typeof redisKeys>;
  private readonly prefix: string;
  private readonly shards: number;
  private readonly retainMs: number;
  private readonly maxStalledCount: number;
  private readonly lockDurationMs: number;
  private readonly queues: Queue[] = [];
  private readonly workers: Worker[] = [];
  /** Give-up reports still being written (close() waits for them). */
  private readonly abandoning = new Set<Promise<void>>();
  private readonly observers: QueueObserver<P>[] = [];
  private readonly ready: Promise<void>;
  private running = 0;
  private lastWaiting = 0;
  private closed = false;

  constructor(
    private readonly handlers: WorkQueueHandlers<P>,
    private readonly options: RedisQueueOptions<P>,
  ) {
    const { connection, prefix, shards, groupOf: _g, originOf: _o, log: _l, ...rest } = options;
    this.limits = {
      ...DEFAULT_WORK_QUEUE_LIMITS,
      ...Object.fromEntries(
        Object.entries(rest).filter(([k, v]) => v !== undefined && k in DEFAULT_WORK_QUEUE_LIMITS),
      ),
    };
    this.redis = connection;
    this.prefix = prefix ?? DEFAULT_REDIS_PREFIX;
    this.keys = redisKeys(this.prefix);
    this.shards = Math.max(1, shards ?? 16);
    this.retainMs = options.retainMs ?? 24 * 3600_000;
    this.maxStalledCount = options.maxStalledCount ?? 3;
    this.lockDurationMs = options.lockDurationMs ?? 15_000;
    for (let n = 0; n < this.shards; n++) {
      const name = this.keys.shard(n);
      this.queues.push(new Queue(name, { connection, prefix: this.prefix }));
      const worker = new Worker(name, (job: Job<StoredJob<P>>) => this.process(job), {
        connection,
        prefix: this.prefix,
        concurrency: 1,
        lockDuration: this.lockDurationMs,
        stalledInterval: options.stalledIntervalMs ?? 5_000,
        maxStalledCount: this.maxStalledCount,
        autorun: false,
      });
      worker.on("error", (err) => options.log?.warn({ err, queue: name }, "redis work queue: worker error"));
      worker.on("failed", (job, err) => {
        // A run that threw was reported by `process`.
        if (!job || err instanceof ReportedJobError) return;
        if (lostTooOften(job, this.maxStalledCount)) {
          // Kept until done: close() waits for it, so a shutdown never cuts a give-up's report off.
          const reported = this.abandon(job, err).finally(() => this.abandoning.delete(reported));
          this.abandoning.add(reported);
          return;
        }
        void this.report(job.data.payload, async () => this.handlers.failed?.(job.data.payload, err));
      });
      this.workers.push(worker);
    }
    this.ready = this.start();
    this.ready.catch((err: unknown) => options.log?.warn({ err }, "redis work queue: cannot start"));
  }

  private async start(): Promise<void> {
    // One job at a time per shard, across every replica: this is what keeps a key's jobs in order.
    await Promise.all(this.queues.map((q) => q.setGlobalConcurrency(1)));
    for (const w of this.workers) void w.run().catch(() => undefined);
  }

  get size() {
    return { running: this.running, waiting: this.lastWaiting };
  }

  observe(observer: QueueObserver<P>): void {
    this.observers.push(observer);
  }

  private tell(notify: (observer: QueueObserver<P>) => void): void {
    for (const observer of this.observers) {
      try {
        notify(observer);
      } catch {
        // A broken metric never stops work.
      }
    }
  }

  private async report(payload: P, notify: () => Promise<void> | undefined): Promise<void> {
    try {
      await notify();
    } catch (err) {
      try {
        this.handlers.failed?.(payload, err);
      } catch {
        // `failed` itself threw; nothing is left to tell.
      }
    }
  }

  async enqueue(job: QueuedJob<P>, heldBefore = false): Promise<EnqueueResult> {
    if (this.closed) throw new QueueClosedError();
    await this.ready;
    const group = this.options.groupOf?.(job) ?? job.key;
    const origin = this.options.originOf?.(job);
    // BullMQ job ids may not hold a colon: a digest of key and origin, or a fresh id.
    const jobId = `j${origin === undefined ? randomUUID().replaceAll("-", "") : digest(`${job.key}\n${origin}`)}`;
    const waitingGroup = this.keys.waitingGroup(group);
    const latestKey = this.keys.latest(job.key);
    const [verdict, seqOrCount, waiting] = (await this.redis.eval(
      RESERVE,
      5,
      waitingGroup,
      this.keys.waitingAll,
      latestKey,
      this.keys.origin(jobId),
      this.keys.sequence(job.key),
      jobId,
      this.limits.maxWaitingPerGroup,
      this.limits.maxWaiting,
      job.supersedes ? "1" : "0",
      PENDING_ORIGIN_MS,
    )) as [string, number, number];
    const queue = this.queues[shardOf(job.key, this.shards)] as Queue;
    // The same delivery's job for this key is already queued, running or done: it is not worked twice.
    if (verdict === "duplicate") {
      const kept = (await queue.getJob(jobId).catch(() => undefined)) as Job<StoredJob<P>> | undefined;
      this.options.log?.info?.(
        { job: job.key, id: jobId, kept: Boolean(kept) },
        "redis work queue: duplicate",
      );
      // Another replica is between reserving and adding it, or was killed there (a push job restarted
      // after a lost replica comes here): wait for the hold to end — the job appears (a duplicate), or the
      // hold expires and this one queues it. Only a hold that outlives its own expiry is refused (5xx).
      let found = kept;
      if (!found && (await this.redis.get(this.keys.origin(jobId))) === "pending") {
        if (!job.waitIfHeld) {
          throw new Error(
            `job ${job.key} of this delivery is being queued by another replica; redeliver it in ${Math.ceil(PENDING_ORIGIN_MS / 1000)} s if it does not run`,
          );
        }
        const until = Date.now() + PENDING_ORIGIN_MS + 1_000;
        for (;;) {
          await new Promise((r) => setTimeout(r, 200));
          found = (await queue.getJob(jobId).catch(() => undefined)) as Job<StoredJob<P>> | undefined;
          if (found) break;
          const hold = await this.redis.get(this.keys.origin(jobId));
          if (hold === null && !heldBefore) return this.enqueue(job, true);
          if (hold !== "pending" || Date.now() > until) {
            if (hold !== "pending") break;
            throw new Error(
              `job ${job.key} of this delivery is being queued by another replica; redeliver it if it does not run`,
            );
          }
        }
      }
      const keptPayload = found?.data?.payload;
      await this.report(job.payload, () => this.handlers.duplicate?.(job.payload, keptPayload));
      return { queued: true };
    }
    if (verdict !== "ok") {
      const reason =
        verdict === "group"
          ? `not queued: this repository already has ${seqOrCount} jobs waiting`
          : `not queued: gitops-bot already has ${seqOrCount} jobs waiting`;
      this.tell((o) => o.refused?.(job.payload));
      await this.report(job.payload, () => this.handlers.refused?.(job.payload, reason));
      return { queued: false, reason };
    }
    this.lastWaiting = waiting;
    const stored: StoredJob<P> = {
      key: job.key,
      group,
      seq: seqOrCount,
      supersedes: job.supersedes,
      enqueuedAt: Date.now(),
      payload: job.payload,
    };
    // A replica killed after adding the job but before keeping its origin: the job is there already (BullMQ
    // would ignore a second add of its id). Undo this reservation, keep the origin, and call it a duplicate.
    const existing = (await queue.getJob(jobId).catch(() => undefined)) as Job<StoredJob<P>> | undefined;
    if (existing) {
      const state = await existing.getState().catch(() => "unknown");
      if (!["waiting", "prioritized", "delayed", "wait"].includes(state)) {
        await this.redis.eval(TAKE, 2, waitingGroup, this.keys.waitingAll, jobId).catch(() => undefined);
      }
      await this.keepOrigin(jobId);
      await this.report(job.payload, () => this.handlers.duplicate?.(job.payload, existing.data?.payload));
      return { queued: true };
    }
    try {
      await queue.add("job", stored, {
        jobId,
        attempts: 1,
        removeOnComplete: { age: Math.ceil(this.retainMs / 1000), count: 10_000 },
        removeOnFail: true,
      });
    } catch (err) {
      await this.redis.eval(TAKE, 2, waitingGroup, this.keys.waitingAll, jobId).catch(() => undefined);
      await this.redis.del(this.keys.origin(jobId)).catch(() => undefined);
      throw new Error(`cannot queue job ${job.key} in Redis: ${(err as Error).message}`, { cause: err });
    }
    await this.keepOrigin(jobId);
    this.tell((o) => o.enqueued?.(job.payload));
    if (job.supersedes) await this.supersedeWaiting(queue, stored, jobId, waitingGroup);
    return { queued: true };
  }

  /** The job is in BullMQ: its origin is kept for `retainMs` (unless it already failed and was forgotten). */
  private async keepOrigin(jobId: string): Promise<void> {
    await this.redis
      .set(this.keys.origin(jobId), jobId, "PX", this.retainMs, "XX")
      .catch((err: unknown) =>
        this.options.log?.warn({ err }, "redis work queue: cannot keep a job's origin"),
      );
  }

  /** Drops the key's previous job if it is still waiting, and reports it superseded by `stored`. */
  private async supersedeWaiting(queue: Queue, stored: StoredJob<P>, jobId: string, waitingGroup: string) {
    const previous = (await this.redis.eval(
      SET_LATEST,
      1,
      this.keys.latest(stored.key),
      stored.seq,
      jobId,
      JSON.stringify(stored.payload),
      this.retainMs,
    )) as [string, string] | [];
    const [oldId, oldPayload] = previous;
    if (oldId === undefined || oldPayload === undefined || oldId === jobId) return;
    // Claim it: whoever takes it out of the waiting set owns it (its start, or this supersede).
    const claimed = (await this.redis.eval(TAKE, 2, waitingGroup, this.keys.waitingAll, oldId)) as number;
    if (claimed !== 1) return;
    await queue.remove(oldId).catch(() => 0);
    const dropped = JSON.parse(oldPayload) as P;
    this.tell((o) => o.superseded?.(dropped));
    await this.report(dropped, () => this.handlers.superseded?.(dropped, stored.payload));
  }

  private async process(job: Job<StoredJob<P>>): Promise<void> {
    const data = job.data;
    const id = job.id ?? "";
    const taken = (await this.redis.eval(
      TAKE,
      2,
      this.keys.waitingGroup(data.group),
      this.keys.waitingAll,
      id,
    )) as number;
    // A first start that finds itself claimed was superseded at enqueue (and reported there); a restart after
    // a lost replica was taken out at its first start.
    if (taken !== 1 && (job.attemptsStarted ?? 1) <= 1) {
      this.options.log?.info?.(
        { job: data.key, id },
        "redis work queue: job claimed before it started; skipped",
      );
      return;
    }
    if (data.supersedes) {
      const [seq, latestPayload] = await this.redis.hmget(this.keys.latest(data.key), "seq", "payload");
      if (seq && latestPayload && Number(seq) > data.seq) {
        const by = JSON.parse(latestPayload) as P;
        this.tell((o) => o.superseded?.(data.payload));
        await this.report(data.payload, () => this.handlers.superseded?.(data.payload, by));
        return;
      }
    }
    const startedAt = performance.now();
    this.tell((o) => o.started?.(data.payload, Math.max(0, Date.now() - data.enqueuedAt)));
    this.running++;
    let error: unknown;
    try {
      await this.handlers.run(data.payload, { restarted: (job.attemptsStarted ?? 1) > 1 });
    } catch (err) {
      error = err;
    } finally {
      this.running--;
    }
    this.tell((o) => o.finished?.(data.payload, performance.now() - startedAt, error === undefined));
    if (error === undefined) return;
    await this.report(data.payload, async () => this.handlers.failed?.(data.payload, error));
    // Forgotten, so that redelivering the webhook retries it; the failed job is removed (removeOnFail).
    await this.redis.del(this.keys.origin(id)).catch(() => undefined);
    throw new ReportedJobError(`job ${data.key} failed`, { cause: error });
  }

  /**
   * A job BullMQ failed because it was lost more than `maxStalledCount` times (this replica picked it up to
   * fail it; its starts ran elsewhere, or here before the event loop blocked past the lock): `abandoned`
   * reports it where its users look, `failed` logs it, and its origin is forgotten so that a redelivery of
   * its webhook runs it again (as after a run that threw). Called once cluster-wide: only the worker that
   * takes the job out of the queue to fail it emits BullMQ's failed event.
   */
  private async abandon(job: Job<StoredJob<P>>, error: Error): Promise<void> {
    const data = job.data;
    const reason = abandonedReason(job.stalledCounter);
    // Stopped: killed (OOM, node lost, deploy) or its event loop blocked past the lock, each time.
    this.options.log?.warn(
      {
        job: data.key,
        id: job.id,
        lost: job.stalledCounter,
        lockDurationMs: this.lockDurationMs,
        err: error,
      },
      `redis work queue: job given up: ${reason}`,
    );
    this.tell((o) => o.abandoned?.(data.payload));
    await this.report(data.payload, () => this.handlers.abandoned?.(data.payload, reason));
    await this.report(data.payload, async () => this.handlers.failed?.(data.payload, error));
    if (job.id) await this.redis.del(this.keys.origin(job.id)).catch(() => undefined);
  }

  /** Resolves when no job is waiting, delayed or running anywhere in the cluster. */
  async idle(): Promise<void> {
    await this.ready;
    for (;;) {
      const counts = await Promise.all(
        this.queues.map((q) => q.getJobCounts("wait", "active", "prioritized", "delayed")),
      );
      const busy = counts.reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0);
      if (busy === 0 && this.running === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Stops accepting and taking jobs, and waits for this replica's running jobs. Waiting jobs stay in Redis
   * for the other replicas (or the next start).
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.ready.catch(() => undefined);
    await Promise.all(this.workers.map((w) => w.close()));
    await Promise.all([...this.abandoning]);
    await Promise.all(this.queues.map((q) => q.close()));
  }
}
