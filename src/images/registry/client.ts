// A small client for the OCI distribution API's tag listing (`GET /v2/<name>/tags/list`), the only call image
// scanning needs. It follows `Link: <…>; rel="next"` pagination up to a page cap, answers the 401 challenge with
// Basic credentials or a Bearer token from the realm the registry names (anonymous tokens included: Docker Hub,
// GHCR), caches tokens per scope, and retries transient failures with exponential backoff.
//
// Credentials live only in request headers: no URL, log line or error message carries them.
import type { Logger } from "pino";
import { type BasicCredentials, basicAuthorization, type Challenge, parseChallenges } from "./auth.js";
import type { ImageReference } from "./reference.js";

export interface RegistryClientOptions {
  /** Tags asked for per page (`n`). Registries may return fewer, or ignore it (distribution 2.x). */
  pageSize?: number;
  /** Stop with an error after this many pages rather than scan forever. */
  maxPages?: number;
  /** Retries after a network error, 429 or 5xx, with exponential backoff from `retryBaseMs`. */
  retries?: number;
  retryBaseMs?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  logger?: Pick<Logger, "debug" | "warn">;
  fetch?: typeof fetch;
}

export const defaultRegistryClientOptions = {
  pageSize: 1000,
  maxPages: 100,
  retries: 3,
  retryBaseMs: 250,
  timeoutMs: 30_000,
} as const;

export interface TagListing {
  tags: string[];
  /** Pages fetched (1 for a registry that does not paginate). */
  pages: number;
}

/** A failure talking to a registry; `status` is the HTTP status when there was an answer. */
export class RegistryError extends Error {
  override name = "RegistryError";
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** What image scanning needs from a registry; tests and other registries can implement it. */
export interface TagLister {
  listTags(reference: ImageReference, credentials?: BasicCredentials): Promise<TagListing>;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export class RegistryClient implements TagLister {
  private readonly options: Required<Omit<RegistryClientOptions, "logger" | "fetch">>;
  private readonly logger: RegistryClientOptions["logger"];
  private readonly fetch: typeof fetch;
  /** Bearer tokens by realm + service + scope + user; never logged. */
  private readonly tokens = new Map<string, CachedToken>();

  constructor(options: RegistryClientOptions = {}) {
    this.options = {
      pageSize: options.pageSize ?? defaultRegistryClientOptions.pageSize,
      maxPages: options.maxPages ?? defaultRegistryClientOptions.maxPages,
      retries: options.retries ?? defaultRegistryClientOptions.retries,
      retryBaseMs: options.retryBaseMs ?? defaultRegistryClientOptions.retryBaseMs,
      timeoutMs: options.timeoutMs ?? defaultRegistryClientOptions.timeoutMs,
    };
    this.logger = options.logger;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async listTags(reference: ImageReference, credentials?: BasicCredentials): Promise<TagListing> {
    const where = `${reference.registry}/${reference.repository}`;
    const scope = `repository:${reference.repository}:pull`;
    const tags: string[] = [];
    let url: URL | undefined = new URL(`/v2/${reference.repository}/tags/list`, reference.apiBaseUrl);
    url.searchParams.set("n", String(this.options.pageSize));
    let pages = 0;
    // The scheme the registry asked for last; lets later pages go out authenticated at once.
    let authorization: string | undefined;
    while (url) {
      if (pages >= this.options.maxPages) {
        throw new RegistryError(
          `${where}: more than ${this.options.maxPages} pages of tags (${tags.length} tags so far); ` +
            "stopped there. Raise the page cap or ask the registry for larger pages.",
        );
      }
      let response = await this.request(url, authorization, where);
      if (response.status === 401) {
        authorization = await this.answerChallenge(response, scope, credentials, where);
        response = await this.request(url, authorization, where);
      }
      if (response.status !== 200) throw await statusError(response, where, "list tags");
      const body = (await response.json().catch(() => undefined)) as { tags?: unknown } | undefined;
      if (!body || (body.tags !== null && !Array.isArray(body.tags))) {
        throw new RegistryError(`${where}: list tags: the registry's answer has no "tags" list`);
      }
      // A repository whose tags were all deleted answers `"tags": null`.
      for (const tag of (body.tags ?? []) as unknown[]) if (typeof tag === "string") tags.push(tag);
      pages++;
      url = nextPage(response.headers.get("link"), url);
    }
    this.logger?.debug(
      { registry: reference.registry, repository: reference.repository, pages, tags: tags.length },
      "listed tags",
    );
    return { tags, pages };
  }

  /** Turns a 401 into an Authorization header value, fetching a token when the registry wants Bearer. */
  private async answerChallenge(
    response: Response,
    scope: string,
    credentials: BasicCredentials | undefined,
    where: string,
  ): Promise<string> {
    await response.body?.cancel();
    const challenges = parseChallenges(response.headers.get("www-authenticate") ?? "");
    const bearer = challenges.find((c) => c.scheme === "bearer");
    if (bearer) return `Bearer ${await this.token(bearer, scope, credentials, where)}`;
    if (challenges.some((c) => c.scheme === "basic")) {
      if (!credentials) {
        throw new RegistryError(
          `${where}: the registry requires credentials (Basic); set the ImageRepository's secretRef`,
          401,
        );
      }
      return basicAuthorization(credentials);
    }
    throw new RegistryError(`${where}: 401 without a Basic or Bearer challenge; cannot authenticate`, 401);
  }

  private async token(
    challenge: Challenge,
    defaultScope: string,
    credentials: BasicCredentials | undefined,
    where: string,
  ): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new RegistryError(`${where}: Bearer challenge without a realm`, 401);
    const realmUrl = new URL(realm);
    if (challenge.params.service) realmUrl.searchParams.set("service", challenge.params.service);
    // The challenge's scope is what the registry wants; ours is the fallback for registries that omit it.
    realmUrl.searchParams.set("scope", challenge.params.scope ?? defaultScope);
    const key = `${realmUrl.href} ${credentials?.username ?? ""}`;
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.token;

    const response = await this.request(realmUrl, credentials && basicAuthorization(credentials), where);
    if (response.status !== 200) {
      throw await statusError(
        response,
        where,
        `get a token from ${realmUrl.origin}${realmUrl.pathname}${credentials ? "" : " (anonymous)"}`,
      );
    }
    const body = (await response.json().catch(() => undefined)) as
      | { token?: unknown; access_token?: unknown; expires_in?: unknown }
      | undefined;
    const token = typeof body?.token === "string" ? body.token : body?.access_token;
    if (typeof token !== "string" || token === "") {
      throw new RegistryError(`${where}: the token service at ${realmUrl.origin} answered without a token`);
    }
    // Spec default is 60 s; renew a little early so a long scan never sends an expired token.
    const lifetime = typeof body?.expires_in === "number" ? body.expires_in : 60;
    this.tokens.set(key, { token, expiresAt: Date.now() + Math.max(0, lifetime - 10) * 1000 });
    return token;
  }

  /** One request with retries on network errors, 429 and 5xx; other statuses are the caller's to judge. */
  private async request(url: URL, authorization: string | undefined, where: string): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (authorization) headers.authorization = authorization;
    for (let attempt = 0; ; attempt++) {
      let response: Response | undefined;
      let failure: string;
      try {
        response = await this.fetch(url, { headers, signal: AbortSignal.timeout(this.options.timeoutMs) });
        if (response.status !== 429 && response.status < 500) return response;
        failure = `HTTP ${response.status}`;
      } catch (error) {
        failure = (error as Error).name === "TimeoutError" ? "timed out" : describeNetworkError(error);
      }
      if (attempt >= this.options.retries) {
        if (response) return response;
        throw new RegistryError(
          `${where}: GET ${url.origin}${url.pathname} failed after ${attempt + 1} attempts: ${failure}`,
        );
      }
      const delay = retryDelay(response, attempt, this.options.retryBaseMs);
      await response?.body?.cancel();
      this.logger?.warn(
        { registry: url.host, path: url.pathname, attempt: attempt + 1, failure, delay },
        "registry request failed; retrying",
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** `Link: </v2/x/tags/list?n=100&last=foo>; rel="next"`, relative to the current page. */
export function nextPage(link: string | null, current: URL): URL | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match && /(^|;)\s*rel="?next"?\s*(;|$)/i.test(match[2]!)) return new URL(match[1]!, current);
  }
  return undefined;
}

function retryDelay(response: Response | undefined, attempt: number, baseMs: number): number {
  const retryAfter = response?.headers.get("retry-after");
  if (retryAfter && /^\d+$/.test(retryAfter)) return Math.min(Number(retryAfter) * 1000, 30_000);
  // Full jitter keeps many scanners from retrying in lockstep.
  return Math.round(baseMs * 2 ** attempt * (0.5 + Math.random() / 2));
}

async function statusError(response: Response, where: string, step: string): Promise<RegistryError> {
  const text = await response.text().catch(() => "");
  let detail = "";
  try {
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    detail = (body.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; ");
  } catch {
    // Not the registry's JSON error format; the status says enough.
  }
  const hint =
    response.status === 401 || response.status === 403
      ? " (credentials missing or not allowed to pull)"
      : response.status === 404
        ? " (no such repository)"
        : "";
  return new RegistryError(
    `${where}: ${step}: HTTP ${response.status}${hint}${detail ? `: ${detail}` : ""}`,
    response.status,
  );
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
