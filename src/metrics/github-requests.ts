// GitHub API request metrics as an Octokit plugin: every request's route class (the route template with its
// parameters, e.g. `POST /repos/{owner}/{repo}/statuses/{sha}` → `POST statuses`), its status, and the
// rate limit GitHub reported for the installation. Structural types only: the metrics layer knows no Octokit.
import type { GitOpsMetrics } from "./metrics.js";

interface RequestOptions {
  method?: string;
  url?: string;
}

interface OctokitResponse {
  status: number;
  headers: Record<string, string | number | undefined>;
}

interface HookedOctokit {
  hook: {
    wrap(
      name: "request",
      wrapper: (
        request: (options: RequestOptions) => Promise<OctokitResponse>,
        options: RequestOptions,
      ) => Promise<OctokitResponse>,
    ): void;
  };
}

/**
 * The route class of a request: method and the last fixed path segment of the route template, so
 * `/repos/{owner}/{repo}/commits/{ref}/check-runs` becomes `GET check-runs`. Parameters never appear.
 */
export function githubRouteClass(method: string | undefined, url: string | undefined): string {
  const path = (url ?? "").replace(/^https?:\/\/[^/]+/, "").split("?")[0] ?? "";
  const fixed = path
    .split("/")
    .filter((segment) => segment && !segment.startsWith("{") && /^[a-z][a-z0-9_-]*$/.test(segment));
  const last = fixed.at(-1) ?? "root";
  return `${(method ?? "GET").toUpperCase()} ${last}`;
}

/** `ProbotOctokit.plugin(githubMetricsPlugin(metrics))`; the installation comes from the client's auth options. */
export function githubMetricsPlugin(metrics: GitOpsMetrics) {
  return (octokit: unknown, options: { auth?: unknown }) => {
    const auth = options.auth as { installationId?: number | string } | undefined;
    const installation = auth?.installationId === undefined ? undefined : Number(auth.installationId);
    (octokit as HookedOctokit).hook.wrap("request", async (request, requestOptions) => {
      const route = githubRouteClass(requestOptions.method, requestOptions.url);
      const record = (status: number | "error", headers?: OctokitResponse["headers"]) => {
        const remaining = Number(headers?.["x-ratelimit-remaining"]);
        const limit = Number(headers?.["x-ratelimit-limit"]);
        metrics.recordGitHubRequest({
          route,
          status,
          installation,
          rateLimitRemaining:
            Number.isFinite(remaining) && headers?.["x-ratelimit-remaining"] !== undefined
              ? remaining
              : undefined,
          rateLimitLimit:
            Number.isFinite(limit) && headers?.["x-ratelimit-limit"] !== undefined ? limit : undefined,
        });
      };
      try {
        const response = await request(requestOptions);
        record(response.status, response.headers);
        return response;
      } catch (err) {
        const failed = err as { status?: number; response?: OctokitResponse };
        record(failed.status ?? "error", failed.response?.headers);
        throw err;
      }
    });
    return {};
  };
}
