// probot's Octokit with a bounded patience for rate limits: GitHub's primary (403 with x-ratelimit-remaining: 0)
// and secondary (403/429 "secondary rate limit", Retry-After) limits are waited out and retried a few times,
// then the run fails with GitHub's message instead of hanging (probot's default retries forever).
import { ProbotOctokit } from "probot";

// GitHub's secondary limit (about 80 content-creating requests a minute) is hit by large trees' status writes;
// waiting it out a few times keeps a run's report complete.
export const RATE_LIMIT_RETRIES = 8;

type OctokitOptions = NonNullable<ConstructorParameters<typeof ProbotOctokit>[0]>;

interface LimitedRequest {
  method: string;
  url: string;
  request: { retryCount: number };
}

interface LoggingOctokit {
  log: { warn: (message: string) => void };
}

function retryWithin(kind: string) {
  return (retryAfter: number, options: LimitedRequest, octokit: LoggingOctokit): boolean => {
    const retry = options.request.retryCount < RATE_LIMIT_RETRIES;
    octokit.log.warn(
      `GitHub ${kind} rate limit on ${options.method} ${options.url}: ${retry ? `retrying in ${retryAfter} s` : "giving up"}`,
    );
    return retry;
  };
}

export const GitOpsOctokit = ProbotOctokit.defaults((options: OctokitOptions) => ({
  ...options,
  throttle: {
    ...options.throttle,
    onRateLimit: retryWithin("primary"),
    onSecondaryRateLimit: retryWithin("secondary"),
  },
}));
