/**
 * A GitHub REST API double built on nock. Every request that reaches it is checked against GitHub's OpenAPI
 * description (see github-openapi.ts), and `done()` fails the test on a schema violation, an unmatched
 * request or a declared reply that was never used: a green test means the code spoke to GitHub exactly as
 * declared, with requests GitHub would accept.
 *
 *     const github = mockGitHub();
 *     github.installationToken(1);
 *     const status = github.reply("POST", "/repos/o/r/statuses/abc", 201, { id: 1 });
 *     await receive(probot, "push", payload);
 *     expect(status.requests[0]?.body).toMatchObject({ state: "success" });
 *     github.done();
 */
import nock from "nock";
import { checkGitHubRequest } from "./github-openapi.js";

export const GITHUB_API_URL = "https://api.github.com";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD";

export interface MockGitHubOptions {
  /** API root the code under test is configured with, e.g. `https://ghe.example.com/api/v3`. */
  baseUrl?: string;
}

export interface ReplyOptions {
  /** How many requests this reply answers; `done()` fails until all of them arrived. Default 1. */
  times?: number;
  /**
   * `done()` is satisfied from this many requests on (default: `times`): for a write the bot may rightly skip, such
   * as a status whose text is what this process already wrote to the same context.
   */
  minTimes?: number;
  headers?: Record<string, string>;
  /** Answer only after this many milliseconds (a slow GitHub, or to hold a job while others queue up). */
  delayMs?: number;
}

/** A request as the mock received it. */
export interface RecordedRequest {
  method: string;
  /** Relative to the base URL (no GHE `/api/v3` prefix), with its query string. */
  path: string;
  /** Decoded JSON when the body was JSON, the raw string otherwise, undefined when there was none. */
  body: unknown;
  /** The GitHub operation it matched, absent when it failed the OpenAPI check. */
  operationId?: string;
  /** The request's If-None-Match (a conditional read), when it had one. Other headers carry the token: not kept. */
  ifNoneMatch?: string;
}

/** One declared reply; `requests` fills in as matching requests arrive, for assertions on their bodies. */
export interface MockedRoute {
  readonly description: string;
  readonly requests: readonly RecordedRequest[];
}

export interface GitHubMock {
  readonly baseUrl: string;
  /**
   * Declares an expected request and its reply. A string path is compared with the request path (relative to
   * the base URL), ignoring the query string unless the string has one; a RegExp is tested against the path
   * without query string.
   */
  reply(
    method: HttpMethod,
    path: string | RegExp,
    status: number,
    body?: unknown,
    options?: ReplyOptions,
  ): MockedRoute;
  /** Declares the installation access token request probot makes before its first call for an installation. */
  installationToken(installationId: number, options?: { token?: string; times?: number }): MockedRoute;
  /** Every request that matched a declared reply, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /**
   * Throws, listing every problem, if a request failed the OpenAPI check, a request matched nothing, or a
   * declared reply was not used up. Always cleans up, so the next test starts from a clean slate.
   */
  done(): void;
  /** Removes this mock's interceptors and listeners without verifying; for `afterEach` after a failure. */
  cleanup(): void;
}

interface Route extends MockedRoute {
  readonly requests: RecordedRequest[];
  readonly expected: number;
  readonly minimum: number;
  readonly scope: nock.Scope;
  readonly interceptor: nock.Interceptor;
}

// Several mocks may be alive in one test file; the network is opened again only when the last one is gone.
let liveMocks = 0;

export function mockGitHub(options: MockGitHubOptions = {}): GitHubMock {
  const baseUrl = (options.baseUrl ?? GITHUB_API_URL).replace(/\/+$/, "");
  const { origin, pathname } = new URL(baseUrl);
  const basePath = pathname === "/" ? "" : pathname;

  const routes: Route[] = [];
  const requests: RecordedRequest[] = [];
  const violations: string[] = [];
  const unmatched: string[] = [];
  let cleanedUp = false;

  const onNoMatch = (request: unknown, requestOptions?: unknown) => {
    const description = describeUnmatched(requestOptions ?? request);
    if (description) unmatched.push(description);
  };
  nock.emitter.on("no match", onNoMatch);
  // Local services (the test API server, a registry, a git daemon) are real; everything else must be mocked.
  nock.disableNetConnect();
  nock.enableNetConnect(isLocalHost);
  liveMocks++;

  const relativePath = (uri: string) => (uri.startsWith(basePath) ? uri.slice(basePath.length) : uri);

  function reply(
    method: HttpMethod,
    path: string | RegExp,
    status: number,
    body?: unknown,
    replyOptions: ReplyOptions = {},
  ): MockedRoute {
    const expected = replyOptions.times ?? 1;
    const matches = (uri: string) => {
      const relative = relativePath(uri);
      if (typeof path !== "string") return path.test(withoutQuery(relative));
      return path.includes("?") ? relative === path : withoutQuery(relative) === path;
    };
    const scope = nock(origin);
    const interceptor = scope.intercept(matches, method).times(expected);
    if (replyOptions.delayMs) interceptor.delay(replyOptions.delayMs);
    const route: Route = {
      description: `${method} ${baseUrl}${typeof path === "string" ? path : String(path)}`,
      requests: [],
      expected,
      minimum: replyOptions.minTimes ?? expected,
      scope,
      interceptor,
    };
    interceptor.reply(function (this: nock.ReplyFnContext, uri: string, requestBody: nock.Body) {
      const recorded: RecordedRequest = {
        method: this.req.method ?? method,
        path: relativePath(uri),
        body: decodeBody(requestBody),
      };
      const ifNoneMatch = this.req.headers["if-none-match"];
      if (typeof ifNoneMatch === "string") recorded.ifNoneMatch = ifNoneMatch;
      route.requests.push(recorded);
      requests.push(recorded);
      try {
        recorded.operationId = checkGitHubRequest({
          method: recorded.method,
          path: uri,
          body: recorded.body,
          baseUrl,
        });
      } catch (error) {
        const message = (error as Error).message;
        violations.push(message);
        // What GitHub answers to a body it rejects, so the code under test fails the way it would for real.
        return [422, { message, documentation_url: "https://docs.github.com/rest", status: "422" }];
      }
      return [status, body ?? "", replyOptions.headers ?? {}];
    });
    routes.push(route);
    return route;
  }

  function installationToken(installationId: number, tokenOptions: { token?: string; times?: number } = {}) {
    const token = tokenOptions.token ?? `ghs_${"0".repeat(32)}${String(installationId).padStart(4, "0")}`;
    return reply(
      "POST",
      `/app/installations/${installationId}/access_tokens`,
      201,
      {
        token,
        // An hour ahead, as GitHub does, so the client caches the token instead of asking again.
        expires_at: new Date(Date.now() + 60 * 60 * 1000).toISOString(),
        permissions: { metadata: "read", contents: "read", statuses: "write", checks: "write" },
        repository_selection: "all",
      },
      tokenOptions.times === undefined ? {} : { times: tokenOptions.times },
    );
  }

  function cleanup() {
    if (cleanedUp) return;
    cleanedUp = true;
    nock.emitter.removeListener("no match", onNoMatch);
    // nock's interceptors are global: remove only this mock's unused ones, so that they cannot answer a later
    // test's requests, and leave other nock users (registry mocks, say) alone.
    for (const route of routes) nock.removeInterceptor(route.interceptor);
    liveMocks--;
    if (liveMocks === 0) nock.enableNetConnect();
  }

  function done() {
    try {
      const problems: string[] = [];
      if (violations.length > 0) {
        problems.push(`requests rejected by GitHub's OpenAPI description:\n${indent(violations)}`);
      }
      if (unmatched.length > 0) {
        problems.push(`requests that matched no declared reply:\n${indent(unmatched)}`);
      }
      const pending = routes.filter((route) => route.requests.length < route.minimum);
      if (pending.length > 0) {
        const lines = pending.map(
          (route) =>
            `${route.description} (expected ${route.minimum === route.expected ? route.expected : `${route.minimum}–${route.expected}`}, got ${route.requests.length})`,
        );
        problems.push(`declared replies that were not used:\n${indent(lines)}`);
      }
      if (problems.length > 0) throw new Error(`GitHub mock: ${problems.join("\n")}`);
    } finally {
      cleanup();
    }
  }

  return { baseUrl, reply, installationToken, requests, done, cleanup };
}

function isLocalHost(host: string): boolean {
  // nock passes `host:port`; IPv6 literals arrive bracketed.
  const hostname = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.split(":")[0];
  return hostname === "localhost" || hostname === "127.0.0.1" || hostname === "::1";
}

/**
 * nock emits 'no match' with request options or a request object depending on the HTTP client; both carry
 * method, host and path. Returns undefined for local hosts, which are allowed through on purpose.
 */
function describeUnmatched(request: unknown): string | undefined {
  if (!request || typeof request !== "object") return "unknown request";
  const fields = request as Record<string, unknown>;
  const host = stringField(fields.host) ?? stringField(fields.hostname) ?? "unknown-host";
  if (isLocalHost(host)) return undefined;
  const method = stringField(fields.method) ?? "GET";
  const protocol =
    stringField(fields.protocol) ?? (stringField(fields.proto) ? `${fields.proto}:` : "https:");
  // nock spells out default ports; drop them so the line reads like the URL the code used.
  const origin = new URL(`${protocol}//${host}`).origin;
  return `${method.toUpperCase()} ${origin}${stringField(fields.path) ?? "/"}`;
}

function stringField(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function decodeBody(body: nock.Body): unknown {
  if (typeof body !== "string") return body;
  if (body === "") return undefined;
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

function withoutQuery(path: string): string {
  const query = path.indexOf("?");
  return query === -1 ? path : path.slice(0, query);
}

function indent(lines: string[]): string {
  return lines.map((line) => `  - ${line.replaceAll("\n", "\n    ")}`).join("\n");
}
