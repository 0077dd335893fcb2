// Flux's notification rate limit: an event identical to one seen within the window (5 minutes by default, the
// controller's --rate-limit-interval) is dropped before it is routed. "Identical" is Flux's EventKey: the
// involved object, the message and the revision (and origin revision and token) in the metadata — not the
// timestamp, so a reconcile that fails the same way every minute alerts once per window, and a new commit alerts
// at once.
import { createHash } from "node:crypto";
import type { NotifyEvent } from "./event.js";

export const defaultRateLimitWindowMs = 5 * 60_000;

/** Flux's EventKey: the components it hashes, in its order and with its prefixes. */
export function eventKey(event: NotifyEvent): string {
  const { name, namespace, kind } = event.involvedObject;
  const parts = [
    "event",
    `name=${name}`,
    `namespace=${namespace}`,
    `kind=${kind}`,
    `message=${event.message}`,
  ];
  const meta = event.metadata;
  if (meta.originRevision !== undefined) parts.push(`originRevision=${meta.originRevision}`);
  if (meta.revision !== undefined) parts.push(`revision=${meta.revision}`);
  if (meta.token !== undefined) parts.push(`token=${meta.token}`);
  return createHash("sha256").update(parts.join("/")).digest("hex");
}

export interface RateLimiter {
  /** True when `key` was admitted within the window (the event is dropped); otherwise records it. */
  limited(key: string): boolean;
  readonly size: number;
}

/**
 * Remembers admitted keys for `windowMs`, at most `maxKeys` of them (the oldest forgotten first), so memory is
 * bounded whatever the event rate.
 */
export function createRateLimiter(windowMs: number, now: () => number, maxKeys = 10_000): RateLimiter {
  // Insertion order is admission order: the first entries are always the oldest.
  const seen = new Map<string, number>();
  const expire = (at: number) => {
    for (const [key, admitted] of seen) {
      if (at - admitted < windowMs && seen.size <= maxKeys) break;
      seen.delete(key);
    }
  };
  return {
    limited(key) {
      const at = now();
      expire(at);
      const admitted = seen.get(key);
      if (admitted !== undefined && at - admitted < windowMs) return true;
      seen.delete(key);
      seen.set(key, at);
      expire(at);
      return false;
    },
    get size() {
      return seen.size;
    },
  };
}
