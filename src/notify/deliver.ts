// Delivery: notify() routes an event and returns at once; the sending happens later, in a bounded in-memory
// queue per Provider (per run scope), one delivery at a time in event order. A Provider that is down or that
// tarpits holds up its own queue only — never the caller, never another Provider. Each delivery reads the
// Provider's Secrets, checks its settings, and sends with a timeout per attempt; a 5xx, a 429, a network failure
// or a timeout is retried with exponential backoff, anything else is not. Identical events within Flux's
// rate-limit window (5 minutes by default) are dropped before they are routed. Every outcome is logged once,
// scrubbed of the Provider's Secret values in every encoding; no payload and no setting is ever logged.
import type { Logger } from "pino";
import type { OutboundPolicy } from "../util/outbound/index.js";
import { scrubCredentials, secretScrubber } from "../util/secret-scrub.js";
import { DeliveryError } from "./errors.js";
import { eventSubject, type NotifyEvent } from "./event.js";
import type { ProviderIO, ProviderSettings, SendOutcome } from "./providers/types.js";
import { createRateLimiter, defaultRateLimitWindowMs, eventKey } from "./rate-limit.js";
import { type NotificationSet, type Route, routeEvent } from "./routing.js";
import { resolveProviderSettings } from "./settings.js";
import { postJson } from "./transport/http.js";
import { parseSmtpAddress, sendSmtpMail } from "./transport/smtp.js";

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** The wait before the second attempt; it doubles for each next one (with ±20 % jitter). */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 4, baseDelayMs: 1_000, maxDelayMs: 30_000 };

export interface NotifierOptions {
  /** The operator's outbound policy: every request and SMTP connection is judged by it. */
  policy: OutboundPolicy;
  log: Logger;
  /** Flux's --rate-limit-interval; 0 turns the rate limit off. */
  rateLimitWindowMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Deliveries waiting per Provider; past this the oldest waiting one is dropped (and logged). */
  queueLimit?: number;
  /** Providers with deliveries waiting at once; past this new deliveries are dropped. */
  maxQueues?: number;
  /** The longest one attempt may take, whatever a Provider's spec.timeout says. */
  maxTimeoutMs?: number;
  now?: () => number;
  /** Called with every outcome (metrics, tests). */
  onDelivery?: (result: DeliveryResult) => void;
}

export type DeliveryOutcome = "sent" | "skipped" | "failed" | "dropped";

export interface DeliveryResult {
  scope: string;
  /** `Provider/namespace/name`. */
  provider: string;
  /** `Alert/namespace/name`. */
  alert: string;
  type: string;
  /** The event's object, `Kind/namespace/name`. */
  object: string;
  reason: string;
  outcome: DeliveryOutcome;
  attempts: number;
  /** Why it was skipped, dropped or failed; scrubbed of secrets. */
  detail?: string;
}

export interface DispatchSummary {
  /** The event was identical to one within the rate-limit window and was dropped. */
  rateLimited: boolean;
  /** Providers a delivery was queued for. */
  queued: string[];
  /** Routes that send nothing, and why (suspended Provider, `github` served by commit statuses). */
  skipped: { provider: string; reason: string }[];
}

export interface Notifier {
  /** Routes the event and queues its deliveries; returns at once and never throws. */
  notify(event: NotifyEvent, set: NotificationSet): DispatchSummary;
  /** Resolves when every queue is empty and nothing is being sent (tests, shutdown). */
  idle(): Promise<void>;
  /** Stops accepting events, abandons what waits, aborts what is in flight, then resolves. */
  close(): Promise<void>;
  /** Deliveries waiting or in flight. */
  readonly pending: number;
}

interface Job {
  route: Route;
  set: NotificationSet;
}

interface Queue {
  jobs: Job[];
  running: boolean;
}

function backoff(policy: RetryPolicy, attempt: number): number {
  const base = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Bounds one attempt even if a provider misbehaves: the transports time out on their own, this is the net. */
function withinAttempt<T>(work: Promise<T>, ms: number, controller: AbortController): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new DeliveryError(`no answer within ${ms} ms`, true));
    }, ms + 1_000);
    timer.unref();
  });
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}

function scrubEvent(event: NotifyEvent, scrub: (text: string) => string): NotifyEvent {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(event.metadata)) metadata[key] = scrub(value);
  return { ...event, message: scrub(event.message), metadata };
}

function providerIO(settings: ProviderSettings, policy: OutboundPolicy, signal: AbortSignal): ProviderIO {
  const transport = {
    policy,
    timeoutMs: settings.timeoutMs,
    signal,
    ...(settings.ca ? { ca: settings.ca } : {}),
  };
  return {
    postJson: (request) =>
      postJson(request, { ...transport, ...(settings.proxy ? { proxy: settings.proxy } : {}) }),
    async sendMail(message) {
      const server = parseSmtpAddress(settings.address ?? "");
      if (typeof server === "string") throw new DeliveryError(`the SMTP address ${server}`, false);
      const password = settings.password ?? server.password;
      const username = settings.username ?? server.username;
      await sendSmtpMail(message, {
        ...transport,
        server: {
          host: server.host,
          port: server.port,
          implicitTls: server.implicitTls,
          ...(password && username ? { username, password } : {}),
        },
      });
    },
  };
}

export function createNotifier(options: NotifierOptions): Notifier {
  const retry: RetryPolicy = { ...defaultRetryPolicy, ...options.retry };
  const queueLimit = options.queueLimit ?? 100;
  const maxQueues = options.maxQueues ?? 1_000;
  const maxTimeoutMs = options.maxTimeoutMs ?? 60_000;
  const now = options.now ?? Date.now;
  const limiter = createRateLimiter(options.rateLimitWindowMs ?? defaultRateLimitWindowMs, now);
  const log = options.log.child({ component: "notify" });
  const queues = new Map<string, Queue>();
  const closing = new AbortController();
  const workers = new Set<Promise<void>>();
  let pending = 0;
  let closed = false;

  function report(job: Job, outcome: DeliveryOutcome, attempts: number, detail?: string): void {
    const { route, set } = job;
    const result: DeliveryResult = {
      scope: set.scope,
      provider: route.provider.subject,
      alert: route.alert.subject,
      type: route.provider.spec.type,
      object: eventSubject(route.event.involvedObject),
      reason: route.event.reason,
      outcome,
      attempts,
      ...(detail ? { detail } : {}),
    };
    const { outcome: _outcome, ...fields } = result;
    if (outcome === "sent") log.info(fields, "notification sent");
    else if (outcome === "skipped") log.debug(fields, "notification skipped");
    else log.warn(fields, outcome === "dropped" ? "notification dropped" : "notification not delivered");
    try {
      options.onDelivery?.(result);
    } catch (error) {
      log.warn({ err: error }, "onDelivery callback failed");
    }
  }

  async function deliver(job: Job): Promise<void> {
    const { route, set } = job;
    let scrub = (text: string) => scrubCredentials(text);
    let attempts = 0;
    try {
      const { settings, secretValues } = await resolveProviderSettings(route.provider, set.secrets, {
        maxTimeoutMs,
      });
      const known = secretScrubber(secretValues);
      scrub = (text) => known(scrubCredentials(text));
      // Events carry no Secret values by construction; should one slip into a message, this Provider's own
      // Secret values at least never go out in its payload.
      const event = scrubEvent(route.event, known);
      const problem = route.implementation.check(settings);
      if (problem)
        throw new DeliveryError(`${route.provider.subject}: ${problem.field}: ${problem.message}`, false);
      for (;;) {
        attempts++;
        const controller = new AbortController();
        const signal = AbortSignal.any([controller.signal, closing.signal]);
        try {
          const outcome: SendOutcome = await withinAttempt(
            route.implementation.send(event, settings, providerIO(settings, options.policy, signal)),
            settings.timeoutMs,
            controller,
          );
          if ("skipped" in outcome) report(job, "skipped", attempts, outcome.skipped);
          else report(job, "sent", attempts);
          return;
        } catch (error) {
          const retryable = error instanceof DeliveryError && error.retryable;
          if (!retryable || attempts >= retry.attempts || closing.signal.aborted) throw error;
          log.debug(
            { provider: route.provider.subject, attempt: attempts, error: scrub((error as Error).message) },
            "notification attempt failed; retrying",
          );
          await sleep(backoff(retry, attempts), closing.signal);
          if (closing.signal.aborted) throw error;
        }
      }
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      const detail = message.startsWith(route.provider.subject)
        ? message
        : `${route.provider.subject}: ${message}`;
      report(job, "failed", attempts, scrub(detail));
    }
  }

  async function drain(key: string, queue: Queue): Promise<void> {
    try {
      for (let job = queue.jobs.shift(); job; job = queue.jobs.shift()) {
        try {
          await deliver(job);
        } catch (error) {
          // deliver reports its own failures; this is the last line.
          log.error({ err: error, provider: job.route.provider.subject }, "notification delivery crashed");
        } finally {
          pending--;
        }
      }
    } finally {
      queue.running = false;
      if (queue.jobs.length === 0) queues.delete(key);
    }
  }

  function start(key: string, queue: Queue): void {
    if (queue.running) return;
    queue.running = true;
    // Started on a later turn, so the caller's notify() does no I/O at all.
    const worker = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => drain(key, queue))
      .catch((error: unknown) => log.error({ err: error }, "notification queue crashed"));
    workers.add(worker);
    void worker.finally(() => workers.delete(worker));
  }

  function enqueue(job: Job): boolean {
    const key = `${job.set.scope}\n${job.route.provider.subject}`;
    let queue = queues.get(key);
    if (!queue) {
      if (queues.size >= maxQueues) {
        report(job, "dropped", 0, `more than ${maxQueues} Providers have deliveries waiting`);
        return false;
      }
      queue = { jobs: [], running: false };
      queues.set(key, queue);
    }
    if (queue.jobs.length >= queueLimit) {
      const oldest = queue.jobs.shift()!;
      pending--;
      report(
        oldest,
        "dropped",
        0,
        `${queueLimit} deliveries were waiting for ${oldest.route.provider.subject}`,
      );
    }
    queue.jobs.push(job);
    pending++;
    start(key, queue);
    return true;
  }

  return {
    notify(event, set) {
      const summary: DispatchSummary = { rateLimited: false, queued: [], skipped: [] };
      if (closed) return summary;
      try {
        if (limiter.limited(`${set.scope}\n${eventKey(event)}`)) {
          log.debug(
            { scope: set.scope, object: eventSubject(event.involvedObject), reason: event.reason },
            "notification rate-limited (an identical event was sent within the window)",
          );
          return { ...summary, rateLimited: true };
        }
        for (const route of routeEvent(event, set)) {
          if (route.skipped) {
            summary.skipped.push({ provider: route.provider.subject, reason: route.skipped });
            report({ route, set }, "skipped", 0, route.skipped);
            continue;
          }
          if (enqueue({ route, set })) summary.queued.push(route.provider.subject);
        }
      } catch (error) {
        // Routing is pure and bounded; should it ever throw, the caller's run goes on.
        log.error({ err: error, scope: set.scope }, "notification routing failed");
      }
      return summary;
    },
    async idle() {
      while (workers.size > 0) await Promise.allSettled([...workers]);
    },
    async close() {
      closed = true;
      for (const [, queue] of queues) {
        for (const job of queue.jobs.splice(0)) {
          pending--;
          report(job, "dropped", 0, "the notifier was closed");
        }
      }
      closing.abort();
      while (workers.size > 0) await Promise.allSettled([...workers]);
    },
    get pending() {
      return pending;
    },
  };
}
