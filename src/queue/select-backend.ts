// Which queue, delivery log and timers a process uses: in-process by default; with a Redis URL (REDIS_URL)
// the shared ones, so that several replicas work one queue, accept a delivery once and fire a timer once.
import type { Redis } from "ioredis";
import { type DeliveryLog, InMemoryDeliveryLog } from "./delivery-log.js";
import { InMemoryQueue, type InMemoryQueueOptions } from "./in-memory-queue.js";
import { connectRedis } from "./redis-connection.js";
import { RedisDeliveryLog } from "./redis-delivery-log.js";
import { RedisQueue, type RedisQueueOptions } from "./redis-queue.js";
import type { WorkQueue, WorkQueueHandlers } from "./work-queue.js";

export interface QueueBackendOptions<P> extends InMemoryQueueOptions<P> {
  /** `redis://` or `rediss://` URL; absent: everything stays in this process. */
  redisUrl?: string;
  /** Redis only: see RedisQueueOptions. */
  redis?: Pick<
    RedisQueueOptions<P>,
    "shards" | "prefix" | "originOf" | "lockDurationMs" | "stalledIntervalMs"
  >;
  log?: { warn: (obj: object, msg: string) => void };
}

export interface QueueBackend<P> {
  kind: "in-memory" | "redis";
  queue: WorkQueue<P>;
  deliveries: DeliveryLog;
  /** The Redis client the timers (and anything else shared) use; absent in memory. */
  connection?: Redis;
  /** Closes the queue (waits for this process's running jobs), then the connection. */
  close(): Promise<void>;
}

export function createQueueBackend<P>(
  handlers: WorkQueueHandlers<P>,
  options: QueueBackendOptions<P>,
): QueueBackend<P> {
  const { redisUrl, redis, log, ...limits } = options;
  if (!redisUrl) {
    const queue = new InMemoryQueue<P>(handlers, limits);
    return { kind: "in-memory", queue, deliveries: new InMemoryDeliveryLog(), close: () => queue.close() };
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
    close: async () => {
      await queue.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
