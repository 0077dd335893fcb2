// probot's Octokit with a bounded patience for rate limits. GitHub answers its primary limit (no requests left
// until `x-ratelimit-reset`) and its secondary limits (`Retry-After`) with 403 or 429; both codes are waited out
// here, as GitHub asks, a few times, then the request fails with GitHub's message instead of hanging (probot's
// default retries forever). The throttling plugin still paces writes; its own retries are off, and the retry
// plugin leaves 429 to us (it would retry after 1, 4, 9 s whatever GitHub said).
import { ProbotOctokit } from "probot";

// GitHub's secondary limit (about 80 content-creating requests a minute) is hit by large trees' status writes;
// waiting it out a few times keeps a run's report complete.
export const RATE_LIMIT_RETRIES = 8;

/** A longer wait (a primary limit resetting in an hour) fails the request: the report plan retries it later. */
export const MAX_RATE_LIMIT_WAIT_S = 5 * 60;

/** GitHub's documented wait for a secondary limit that names no Retry-After. */
const SECONDARY_FALLBACK_S = 60;

type OctokitOptions = NonNullable<ConstructorParameters<typeof ProbotOctokit>[0]>;

interface GitHubFailure {
  status?: unknown;
  message?: unknown;
  response?: { headers?: Record<string, string | number | undefined> };
}

function header(err: unknown, name: string): string | undefined {
  const value = (err as GitHubFailure | undefined)?.response?.headers?.[name];
  return value === undefined ? undefined : String(value);
}

const secondary = (err: unknown) => /secondary rate/i.test(String((err as GitHubFailure).message ?? ""));

/** A 429, or a 403 that is one of GitHub's rate limits (primary, secondary, or an explicit Retry-After). */
export function rateLimited(err: unknown): boolean {
  const status = (err as GitHubFailure | undefined)?.status;
  if (status === 429) return true;
  if (status !== 403) return false;
  return (
    header(err, "retry-after") !== undefined ||
    header(err, "x-ratelimit-remaining") === "0" ||
    /rate limit/i.test(String((err as GitHubFailure).message ?? ""))
  );
}

/**
 * How long GitHub asked to wait, in ms: `Retry-After` (seconds), else until one second past `x-ratelimit-reset`
 * (epoch seconds) when no requests remain; undefined when it did not say.
 */
export function requestedDelayMs(err: unknown, now: number = Date.now()): number | undefined {
  const retryAfter = header(err, "retry-after");
  if (retryAfter !== undefined && Number.isFinite(Number(retryAfter)) && Number(retryAfter) >= 0) {
    return Number(retryAfter) * 1000;
  }
  const reset = Number(header(err, "x-ratelimit-reset"));
  if (header(err, "x-ratelimit-remaining") === "0" && Number.isFinite(reset)) {
    return Math.max(0, reset * 1000 - now + 1000);
  }
  return undefined;
}

/** Seconds to wait before retry `retry` (0 for the first) of a rate-limited request. */
export function rateLimitWaitSeconds(err: unknown, retry: number, now?: number): number {
  const asked = requestedDelayMs(err, now);
  if (asked !== undefined) return Math.ceil(asked / 1000);
  return secondary(err) ? SECONDARY_FALLBACK_S : (retry + 1) ** 2;
}

interface RequestOptions {
  method?: string;
  url?: string;
}

interface HookedOctokit {
  hook: {
    wrap: (
      name: "request",
      wrapper: (
        request: (options: RequestOptions) => Promise<unknown>,
        options: RequestOptions,
      ) => Promise<unknown>,
    ) => void;
  };
  log: { warn: (message: string) => void };
}

/** Waits out 403/429 rate limits as GitHub asks; `throttle.retryAfterBaseValue` is the ms per second (tests). */
function honourRateLimits(octokit: HookedOctokit, options: { throttle?: { retryAfterBaseValue?: number } }) {
  const msPerSecond = options.throttle?.retryAfterBaseValue ?? 1000;
  octokit.hook.wrap("request", async (request, req) => {
    for (let retry = 0; ; retry++) {
      try {
        return await request(req);
      } catch (err) {
        if (!rateLimited(err)) throw err;
        const seconds = rateLimitWaitSeconds(err, retry);
        const what = `GitHub rate limit (${(err as GitHubFailure).status}) on ${req.method} ${req.url}`;
        if (retry >= RATE_LIMIT_RETRIES || seconds > MAX_RATE_LIMIT_WAIT_S) {
          octokit.log.warn(`${what}: giving up (asked to wait ${seconds} s, ${retry} retries so far)`);
          throw err;
        }
        octokit.log.warn(`${what}: retrying in ${seconds} s`);
        await new Promise((resolve) => setTimeout(resolve, seconds * msPerSecond));
      }
    }
  });
  return {};
}

// The throttling plugin's limit handlers: never retry there (honourRateLimits does, for 403 and 429 alike).
const noThrottleRetry = () => false;

const RETRY_PLUGIN_DO_NOT_RETRY = [400, 401, 403, 404, 410, 422, 429, 451];

export const GitOpsOctokit = ProbotOctokit.plugin(
  honourRateLimits as unknown as Parameters<typeof ProbotOctokit.plugin>[0],
).defaults((options: OctokitOptions) => ({
  ...options,
  retry: { ...options.retry, doNotRetry: RETRY_PLUGIN_DO_NOT_RETRY },
  throttle: {
    ...options.throttle,
    onRateLimit: noThrottleRetry,
    onSecondaryRateLimit: noThrottleRetry,
  },
}));
