// Waiting on the cluster: poll objects until each is healthy, one fails for good, or the timeout passes. Each
// read is bounded by the client's request timeouts, and no read starts after the deadline, so a poll ends
// within the timeout plus one request; a read that fails (the API server hung or gone) ends the wait with it.
import type { KubernetesObject } from "@kubernetes/client-node";
import { mapLimit } from "../../reconcile/concurrency.js";
import { assessHealth, type Health } from "../health.js";
import type { RawObjectApi } from "../kube-client.js";
import { ObjectError } from "./errors.js";
import { subjectOf } from "./object-id.js";
import { getLive } from "./read.js";

export interface WaitOptions {
  timeoutMs: number;
  intervalMs: number;
  concurrency: number;
  /** Told after every poll that leaves objects unhealthy (for a progress line); a hook that throws is ignored. */
  onPoll?: (progress: WaitProgress) => void;
  /** Health of the kinds a Kustomization's healthCheckExprs cover (health-exprs.ts); others use kstatus rules. */
  assess?: (obj: KubernetesObject) => Health | undefined;
}

export interface WaitProgress {
  elapsedMs: number;
  timeoutMs: number;
  /** How many objects are waited on, and those not healthy yet. */
  total: number;
  unhealthy: UnhealthyObject[];
}

export function defaultWaitOptions(): WaitOptions {
  return { timeoutMs: 5 * 60_000, intervalMs: 1_000, concurrency: 8 };
}

export interface UnhealthyObject {
  subject: string;
  status: Health["status"] | "NotFound";
  message: string;
}

export interface WaitResult {
  healthy: boolean;
  unhealthy: UnhealthyObject[];
  elapsedMs: number;
}

export async function waitForHealthy(
  api: RawObjectApi,
  objects: KubernetesObject[],
  options: Partial<WaitOptions> = {},
): Promise<WaitResult> {
  const opts = { ...defaultWaitOptions(), ...options };
  const started = Date.now();
  let pending = objects;
  let unhealthy: UnhealthyObject[] = [];
  for (;;) {
    const assessed = await mapLimit(pending, opts.concurrency, async (obj) => {
      if (Date.now() - started > opts.timeoutMs) {
        const health: UnhealthyObject = {
          subject: subjectOf(obj),
          status: "InProgress",
          message: "not read",
        };
        return { obj, health };
      }
      const live = await getLive(api, obj);
      const health: UnhealthyObject | undefined = !live
        ? { subject: subjectOf(obj), status: "NotFound", message: "object not found" }
        : (() => {
            const h = opts.assess?.(live) ?? assessHealth(live);
            return h.status === "Current" ? undefined : { subject: subjectOf(obj), ...h };
          })();
      return { obj, health };
    });
    pending = assessed.filter((a) => a.health).map((a) => a.obj);
    unhealthy = assessed.flatMap((a) => (a.health ? [a.health] : []));
    const elapsedMs = Date.now() - started;
    if (unhealthy.length === 0) return { healthy: true, unhealthy, elapsedMs };
    if (unhealthy.some((u) => u.status === "Failed")) return { healthy: false, unhealthy, elapsedMs };
    if (elapsedMs + opts.intervalMs > opts.timeoutMs) {
      return {
        healthy: false,
        unhealthy: unhealthy.map((u) => ({
          ...u,
          message: `timeout after ${Math.round(elapsedMs / 1000)} s: ${u.message}`,
        })),
        elapsedMs,
      };
    }
    try {
      opts.onPoll?.({ elapsedMs, timeoutMs: opts.timeoutMs, total: objects.length, unhealthy });
    } catch {
      // A broken progress line never fails a wait.
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}

export async function waitForEstablished(
  api: RawObjectApi,
  crds: KubernetesObject[],
  timeoutMs: number,
): Promise<ObjectError[]> {
  const result = await waitForHealthy(api, crds, { timeoutMs, intervalMs: 200 });
  return result.unhealthy.map((u) => new ObjectError(u.subject, "wait", u.message));
}
