// The one Redis client a replica shares between its queue, delivery log and timers (BullMQ opens the blocking
// connections its workers need from it). `maxRetriesPerRequest: null` is what BullMQ's workers require: a
// command waits for Redis to come back rather than failing after a few retries.
import { Redis } from "ioredis";

export function connectRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName: "gitops-bot" });
}
