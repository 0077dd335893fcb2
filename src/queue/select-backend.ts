// Which queue, delivery log and timers a process uses: in-process by default; with a Redis URL (REDIS_URL)
// the shared ones, so that several replicas work one queue, accept a delivery once and fire a timer once.
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { type DeliveryLog, InMemoryDeliveryLog } from "./delivery-log.js";
import { InMemoryQueue, type InMemoryQueueOptions } from "./in-memory-queue.js";
import { InMemoryTimers } from "./in-memory-timers.js";
import { connectRedis } from "./redis-connection.js";
import { RedisDeliveryLog } from "./redis-delivery-log.js";
import { RedisQueue, type RedisQueueOptions } from "./redis-queue.js";
import { RedisTimers } from "./redis-timers.js";
import type { TimerHandler, Timers } from "./timers.js";
import type { WorkQueue, WorkQueueHandlers } from "./work-queue.js";

export interface QueueBackendOptions<P> extends InMemoryQueueOptions<P> {
  /** `redis://` or `rediss://` URL; absent: everything stays in this process. */
  redisUrl?: string;
  /** Redis only: see RedisQueueOptions. */
  redis?: Pick<
    RedisQueueOptions<P>,
    "shards" | "prefix" | "originOf" | "lockDurationMs" | "stalledIntervalMs"
  >;
  log?: { warn: (obj: object, msg: string) => void; info?: (obj: object, msg: string) => void };
}

export interface QueueBackend<P> {
  kind: "in-memory" | "redis";
  queue: WorkQueue<P>;
  deliveries: DeliveryLog;
  /** The Redis client the timers (and anything else shared) use; absent in memory. */
  connection?: Redis;
  /**
   * Timers of one kind (`reconcile`, `images`): in this process, or with Redis fired once cluster-wide by
   * whichever replica takes the firing. Closed with the backend.
   */
  timers<T>(name: string, handler: TimerHandler<T>, options: TimersOptions): Timers<T>;
  /** Closes the timers, the queue (waits for this process's running jobs), then the connection. */
  close(): Promise<void>;
}

export interface TimersOptions {
  /** The operator's floor (`security.minInterval`). */
  minIntervalMs: number;
  /** Flux's jitter on every interval, in-process timers only (Redis fires on the scheduler's grid). */
  jitterPercent?: number;
  log?: Pick<Logger, "warn" | "debug">;
}

export function createQueueBackend<P>(
  handlers: WorkQueueHandlers<P>,
  options: QueueBackendOptions<P>,
): QueueBackend<P> {
  const { redisUrl, redis, log, ...limits } = options;
  const timers: Array<Timers<unknown>> = [];
  const closeTimers = () => Promise.all(timers.map((t) => t.close().catch(() => undefined)));
  if (!redisUrl) {
    const queue = new InMemoryQueue<P>(handlers, limits);
    return {
      kind: "in-memory",
      queue,
      deliveries: new InMemoryDeliveryLog(),
      timers<T>(_name: string, handler: TimerHandler<T>, o: TimersOptions): Timers<T> {
        const t = new InMemoryTimers<T>(handler, {
          minIntervalMs: o.minIntervalMs,
          ...(o.jitterPercent !== undefined ? { jitterPercent: o.jitterPercent } : {}),
          ...(o.log ? { log: o.log } : {}),
        });
        timers.push(t as Timers<unknown>);
        return t;
      },
      close: async () => {
        await closeTimers();
        await queue.close();
      },
    };
  }
  const connection = connectRedis(redisUrl);
  connection.on("error", (err: unknown) => log?.warn({ err }, "redis: connection error"));
  const queue = new RedisQueue<P>(handlers, { ...limits, ...redis, connection, ...(log ? { log } : {}) });
  const deliveries = new RedisDeliveryLog(connection, redis?.prefix ? { prefix: redis.prefix } : {});
  return {
    kind: "redis",
    queue,
    deliveries,
    connection,
    timers<T>(name: string, handler: TimerHandler<T>, o: TimersOptions): Timers<T> {
      const t = new RedisTimers<T>(handler, {
        connection,
        name,
        minIntervalMs: o.minIntervalMs,
        ...(redis?.prefix ? { prefix: redis.prefix } : {}),
        ...(o.log ? { log: o.log } : {}),
      });
      timers.push(t as Timers<unknown>);
      return t;
    },
    close: async () => {
      await closeTimers();
      await queue.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
