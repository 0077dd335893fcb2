// SIGTERM within a bound: stop taking work (runs that have not started hand themselves back), let the running
// ones finish for most of the grace, then interrupt what still runs — each reports itself cut off, with the
// rest of the grace to write that — so the process exits within the grace Kubernetes gives (default 30 s).
import type { Logger } from "pino";
import { type RunLifecycle, withinMs } from "./lifecycle.js";

/**
 * The part of the grace kept for interrupted runs' reports: a third, at most 10 s. Octokit paces writes about
 * a second apart (GitHub's advice against secondary limits), and each cut-off run writes two or more.
 */
export function reportReserveMs(graceMs: number): number {
  return Math.min(10_000, Math.floor(graceMs / 3));
}

export type ShutdownOutcome = { drained: true } | { drained: false; interrupted: number };

/**
 * Stops `app` within `graceMs`: `close()` (the queue's drain) is waited for until the reserve; then the runs
 * still in flight are interrupted and their reports waited for until the grace ends.
 */
export async function shutDownWithin(
  app: { close(): Promise<void>; lifecycle: RunLifecycle },
  graceMs: number,
  log: Logger,
): Promise<ShutdownOutcome> {
  const started = Date.now();
  app.lifecycle.beginShutdown();
  const reserve = reportReserveMs(graceMs);
  if (await withinMs(app.close(), graceMs - reserve)) return { drained: true };
  const left = Math.max(0, graceMs - (Date.now() - started));
  const interrupted = await app.lifecycle.interruptAll(left, log);
  return { drained: false, interrupted };
}
