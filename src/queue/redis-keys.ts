// Names of what gitops-bot keeps in Redis, in one place: BullMQ's queues (under the same prefix) and the few
// keys of our own (waiting sets for the bounds, the latest job per key for supersede, delivery ids).
import { createHash } from "node:crypto";

export const DEFAULT_REDIS_PREFIX = "gitops-bot";

export function redisKeys(prefix: string) {
  return {
    /** BullMQ queue name of shard `n`. */
    shard: (n: number) => `work-${n}`,
    timers: "timers",
    /** Ids of the jobs waiting (not started) across the cluster, for `maxWaiting`. */
    waitingAll: `${prefix}:waiting`,
    /** Ids of one group's waiting jobs, for `maxWaitingPerGroup`. */
    waitingGroup: (group: string) => `${prefix}:waiting:${digest(group)}`,
    /** Sequence counter of a key: every job of the key gets the next number. */
    sequence: (key: string) => `${prefix}:seq:${digest(key)}`,
    /** Hash {seq, id, payload} of the newest job of a superseding key. */
    latest: (key: string) => `${prefix}:latest:${digest(key)}`,
    /** Set while a job from this origin (delivery) and key is queued, running or recently done. */
    origin: (jobId: string) => `${prefix}:origin:${jobId}`,
    delivery: (id: string) => `${prefix}:delivery:${digest(id)}`,
  };
}

/** A short stable name for text from outside (keys, delivery ids): no colons, bounded length. */
export function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}

/** The shard a key's jobs all go to: the same on every replica. */
export function shardOf(key: string, shards: number): number {
  return Number.parseInt(digest(key).slice(0, 8), 16) % shards;
}
