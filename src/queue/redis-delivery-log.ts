// The delivery log of several replicas: a delivery id is remembered cluster-wide once its work is queued, so a
// redelivery that reaches another replica does no work twice. `accept` only reads and `record` writes after
// the enqueue: a replica killed between the two leaves no mark that would refuse the redelivery. Two copies
// of one delivery racing past `accept` on two replicas are one job all the same: the queue refuses a second
// job from one origin (redis-queue.ts). Bounded by time, not count: an id is kept for `retainMs` (GitHub
// redelivers within days).
import type { Redis } from "ioredis";
import type { DeliveryLog, DeliveryObserver } from "./delivery-log.js";
import { DEFAULT_REDIS_PREFIX, redisKeys } from "./redis-keys.js";

export interface RedisDeliveryLogOptions {
  prefix?: string;
  /** How long an accepted delivery is remembered. Default 7 days. */
  retainMs?: number;
}

export class RedisDeliveryLog implements DeliveryLog {
  private readonly observers: DeliveryObserver[] = [];
  private readonly keys: ReturnType<typeof redisKeys>;
  private readonly retainMs: number;

  constructor(
    private readonly redis: Redis,
    options: RedisDeliveryLogOptions = {},
  ) {
    this.keys = redisKeys(options.prefix ?? DEFAULT_REDIS_PREFIX);
    this.retainMs = options.retainMs ?? 7 * 24 * 3600_000;
  }

  observe(observer: DeliveryObserver): void {
    this.observers.push(observer);
  }

  async accept(id: string): Promise<boolean> {
    if ((await this.redis.exists(this.keys.delivery(id))) === 0) return true;
    for (const o of this.observers) {
      try {
        o.duplicate?.(id);
      } catch {
        // A broken metric never refuses a delivery.
      }
    }
    return false;
  }

  async record(id: string): Promise<void> {
    await this.redis.set(this.keys.delivery(id), "1", "PX", this.retainMs);
  }

  /** Best effort: if Redis is unreachable the id stays until it expires, and a redelivery is refused until then. */
  forget(id: string): void {
    this.redis.del(this.keys.delivery(id)).catch(() => undefined);
  }
}
