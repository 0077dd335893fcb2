// The registry client's tag listing (`GET /v2/<name>/tags/list`), one for image scans and OCI sources (semver
// refs of OCIRepositories and OCI Helm charts list tags through it; their manifests and blobs are
// src/source/oci.ts, on the same token conversation, token.ts). It follows `Link: <…>; rel="next"` pagination up to a page and tag cap, answers the 401
// challenge with Basic credentials or a Bearer token from the realm the registry names (anonymous tokens
// included: Docker Hub, GHCR), caches tokens per scope, and retries transient failures with exponential backoff.
//
// Every request goes through the outbound policy (src/util/outbound): the registry host and each redirect are
// judged, bodies are capped while streaming. Credentials live only in request headers (no URL, log line or
// error message carries them) and go only to the registry's own host: a token realm on another host is asked
// anonymously (Docker Hub's auth.docker.io and GitLab's gitlab.com are the registry's own, see
// realmMayHaveCredentials), a redirect elsewhere drops them, and a `Link` page on another host is refused.
import type { Logger } from "pino";
import {
  createOutboundPolicy,
  describeRequest,
  type OutboundPolicy,
  OutboundPolicyError,
  type OutboundRequestError,
  type OutboundResponse,
  outboundFetch,
} from "../outbound/index.js";
import { type BasicCredentials, basicAuthorization, type Challenge } from "./auth.js";
import { nextPage } from "./link.js";
import type { ImageReference } from "./reference.js";
import { answerFor, type TokenRequest, tokenFromAnswer, tokenRequest } from "./token.js";

export { nextPage };

export interface RegistryClientOptions {
  /** Tags asked for per page (`n`). Registries may return fewer, or ignore it (distribution 2.x). */
  pageSize?: number;
  /** Stop with an error after this many pages rather than scan forever. */
  maxPages?: number;
  /** Stop with an error past this many tags in all (a registry ignoring `n` can send them in one page). */
  maxTags?: number;
  /** The largest answer read from the registry or its token service, counted while streaming. */
  maxResponseBytes?: number;
  /** Retries after a network error, 429 or 5xx, with exponential backoff from `retryBaseMs`. */
  retries?: number;
  retryBaseMs?: number;
  /** Per-request timeout, covering redirects and reading the body. */
  timeoutMs?: number;
  /** The operator's outbound policy; by default link-local and metadata addresses are refused. */
  policy?: OutboundPolicy;
  logger?: Pick<Logger, "debug" | "warn">;
}

export const defaultRegistryClientOptions = {
  pageSize: 1000,
  maxPages: 100,
  maxTags: 100_000,
  maxResponseBytes: 16 * 1024 * 1024,
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
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface ListTagsOptions {
  /** The whole listing (every page, token and retry) ends by then: Flux's ImageRepository `spec.timeout`. */
  timeoutMs?: number;
}

/** What image scanning needs from a registry; tests and other registries can implement it. */
export interface TagLister {
  listTags(
    reference: ImageReference,
    credentials?: BasicCredentials,
    options?: ListTagsOptions,
  ): Promise<TagListing>;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export class RegistryClient implements TagLister {
  private readonly options: Required<Omit<RegistryClientOptions, "logger" | "policy">>;
  private readonly logger: RegistryClientOptions["logger"];
  private readonly policy: OutboundPolicy;
  /** Bearer tokens by realm + service + scope + user; never logged. */
  private readonly tokens = new Map<string, CachedToken>();
  /** The Authorization that answered a registry's challenge, by registry/repository + user (get()). */
  private readonly authorizations = new Map<string, string>();

  constructor(options: RegistryClientOptions = {}) {
    const defaults = defaultRegistryClientOptions;
    this.options = {
      pageSize: options.pageSize ?? defaults.pageSize,
      maxPages: options.maxPages ?? defaults.maxPages,
      maxTags: options.maxTags ?? defaults.maxTags,
      maxResponseBytes: options.maxResponseBytes ?? defaults.maxResponseBytes,
      retries: options.retries ?? defaults.retries,
      retryBaseMs: options.retryBaseMs ?? defaults.retryBaseMs,
      timeoutMs: options.timeoutMs ?? defaults.timeoutMs,
    };
    this.logger = options.logger;
    this.policy = options.policy ?? createOutboundPolicy();
  }

  async listTags(
    reference: ImageReference,
    credentials?: BasicCredentials,
    options: ListTagsOptions = {},
  ): Promise<TagListing> {
    const where = `${reference.registry}/${reference.repository}`;
    if (options.timeoutMs === undefined) return this.listPages(reference, credentials, where);
    const deadline = AbortSignal.timeout(options.timeoutMs);
    try {
      return await this.listPages(reference, credentials, where, deadline);
    } catch (error) {
      if (!deadline.aborted) throw error;
      throw new RegistryError(
        `${where}: listing tags did not finish within ${options.timeoutMs} ms`,
        undefined,
        {
          cause: error,
        },
      );
    }
  }

  /**
   * One GET of the registry API for `reference` (`/manifests/<ref>`, `/blobs/<digest>`), for OCI sources and
   * charts: a 401 is answered as for tag listings (Basic, or a Bearer token for `repository:<name>:pull`, the
   * credentials only to the registry's own host), transient failures are retried, the body is bounded by
   * `maxBytes`; the caller judges the status. The Authorization that worked is sent first next time.
   */
  async get(
    reference: ImageReference,
    path: string,
    opts: {
      credentials?: BasicCredentials;
      accept?: string;
      maxBytes?: number;
      signal?: AbortSignal;
      /** Send the Basic credentials with the first request (to the registry itself only), as sources always did. */
      preemptiveBasic?: boolean;
    } = {},
  ): Promise<OutboundResponse> {
    const where = `${reference.registry}/${reference.repository}`;
    const url = new URL(`/v2/${reference.repository}${path}`, reference.apiBaseUrl);
    const remembered = `${where} ${opts.credentials?.username ?? ""}`;
    const body = { accept: opts.accept, maxBytes: opts.maxBytes };
    let authorization =
      this.authorizations.get(remembered) ??
      (opts.preemptiveBasic && opts.credentials ? basicAuthorization(opts.credentials) : undefined);
    let response = await this.request(url, authorization, where, opts.signal, body);
    if (response.status === 401) {
      const scope = `repository:${reference.repository}:pull`;
      authorization = await this.answerChallenge(response, url, scope, opts.credentials, where, opts.signal);
      response = await this.request(url, authorization, where, opts.signal, body);
      if (response.status !== 401) this.authorizations.set(remembered, authorization);
    }
    return response;
  }

  private async listPages(
    reference: ImageReference,
    credentials: BasicCredentials | undefined,
    where: string,
    deadline?: AbortSignal,
  ): Promise<TagListing> {
    const scope = `repository:${reference.repository}:pull`;
    const tags: string[] = [];
    const first = new URL(`/v2/${reference.repository}/tags/list`, reference.apiBaseUrl);
    first.searchParams.set("n", String(this.options.pageSize));
    let url: URL | undefined = first;
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
      let response = await this.request(url, authorization, where, deadline);
      if (response.status === 401) {
        authorization = await this.answerChallenge(response, url, scope, credentials, where, deadline);
        response = await this.request(url, authorization, where, deadline);
      }
      if (response.status !== 200) throw await statusError(response, where, "list tags");
      const body = (await this.readJson(response, where, "list tags")) as { tags?: unknown } | undefined;
      if (!body || (body.tags !== null && !Array.isArray(body.tags))) {
        throw new RegistryError(`${where}: list tags: the registry's answer has no "tags" list`);
      }
      // A repository whose tags were all deleted answers `"tags": null`.
      for (const tag of (body.tags ?? []) as unknown[]) if (typeof tag === "string") tags.push(tag);
      if (tags.length > this.options.maxTags) {
        throw new RegistryError(
          `${where}: more than ${this.options.maxTags} tags (after ${pages + 1} pages); stopped there. ` +
            "Use a repository with fewer tags or raise the tag cap.",
        );
      }
      pages++;
      url = nextPage(response.headers.get("link"), response.url);
      if (url && (url.host !== first.host || url.protocol !== first.protocol)) {
        throw new RegistryError(
          `${where}: list tags: the registry's next page is on another host (${url.protocol}//${url.host}); refused`,
        );
      }
    }
    this.logger?.debug(
      { registry: reference.registry, repository: reference.repository, pages, tags: tags.length },
      "listed tags",
    );
    return { tags, pages };
  }

  /** Turns a 401 into an Authorization header value, fetching a token when the registry wants Bearer. */
  private async answerChallenge(
    response: OutboundResponse,
    registryUrl: URL,
    scope: string,
    credentials: BasicCredentials | undefined,
    where: string,
    deadline: AbortSignal | undefined,
  ): Promise<string> {
    response.discard();
    const answer = answerFor(response.headers.get("www-authenticate"));
    if (answer.scheme === "bearer")
      return `Bearer ${await this.token(answer.challenge, registryUrl, scope, credentials, where, deadline)}`;
    if (answer.scheme === "basic") {
      if (!credentials) {
        throw new RegistryError(
          `${where}: the registry requires credentials (Basic); set the object's secretRef`,
          401,
        );
      }
      return basicAuthorization(credentials);
    }
    throw new RegistryError(`${where}: 401 without a Basic or Bearer challenge; cannot authenticate`, 401);
  }

  private async token(
    challenge: Challenge,
    registryUrl: URL,
    defaultScope: string,
    given: BasicCredentials | undefined,
    where: string,
    deadline: AbortSignal | undefined,
  ): Promise<string> {
    let request: TokenRequest;
    try {
      request = tokenRequest(challenge, registryUrl, defaultScope, given);
    } catch (error) {
      throw new RegistryError(`${where}: ${(error as Error).message}`, 401, { cause: error });
    }
    const { url: realmUrl, authorization, withheld } = request;
    if (withheld) {
      this.logger?.warn(
        { registry: registryUrl.host, realm: realmUrl.host },
        "token realm is not on the registry's host; asking it anonymously, without the credentials",
      );
    }
    const key = `${realmUrl.href} ${authorization ? (given?.username ?? "") : ""}`;
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.token;

    const response = await this.request(realmUrl, authorization, where, deadline);
    const step =
      `get a token from ${realmUrl.origin}${realmUrl.pathname}` +
      (withheld
        ? ` (anonymous: the credentials are only sent to ${registryUrl.host}, not to a realm on another host)`
        : authorization
          ? ""
          : " (anonymous)");
    if (response.status !== 200) throw await statusError(response, where, step);
    const answer = tokenFromAnswer(await this.readJson(response, where, step));
    if (!answer) {
      throw new RegistryError(`${where}: the token service at ${realmUrl.origin} answered without a token`);
    }
    // Spec default is 60 s; renew a little early so a long scan never sends an expired token.
    const lifetime = answer.expiresInSeconds ?? 60;
    this.tokens.set(key, { token: answer.token, expiresAt: Date.now() + Math.max(0, lifetime - 10) * 1000 });
    return answer.token;
  }

  /** The body as JSON, within the byte cap; undefined when it is not JSON. */
  private async readJson(response: OutboundResponse, where: string, step: string): Promise<unknown> {
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new RegistryError(`${where}: ${step}: ${(error as Error).message}`, response.status, {
        cause: error,
      });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }

  /** One request with retries on network errors, 429 and 5xx; other statuses are the caller's to judge. */
  private async request(
    url: URL,
    authorization: string | undefined,
    where: string,
    deadline?: AbortSignal,
    body: { accept?: string; maxBytes?: number } = {},
  ): Promise<OutboundResponse> {
    const headers: Record<string, string> = { accept: body.accept ?? "application/json" };
    if (authorization) headers.authorization = authorization;
    for (let attempt = 0; ; attempt++) {
      let response: OutboundResponse | undefined;
      let failure: string;
      try {
        response = await outboundFetch(url, {
          policy: this.policy,
          headers,
          timeoutMs: this.options.timeoutMs,
          maxBytes: body.maxBytes ?? this.options.maxResponseBytes,
          maxRedirects: 3,
          signal: deadline,
        });
        if (response.status !== 429 && response.status < 500) return response;
        failure = `HTTP ${response.status}`;
      } catch (error) {
        if (deadline?.aborted) throw error;
        // The policy's refusal is final: no retry, and the message says why.
        if (
          error instanceof OutboundPolicyError ||
          (error as OutboundRequestError).failure === "bad-redirect"
        ) {
          throw new RegistryError(`${where}: ${(error as Error).message}`, undefined, { cause: error });
        }
        failure =
          (error as OutboundRequestError).failure === "timeout" ? "timed out" : describeNetworkError(error);
      }
      if (attempt >= this.options.retries) {
        if (response) return response;
        throw new RegistryError(
          `${where}: ${describeRequest("GET", url)} failed after ${attempt + 1} attempts: ${failure}`,
        );
      }
      const delay = retryDelay(response, attempt, this.options.retryBaseMs);
      response?.discard();
      this.logger?.warn(
        { registry: url.host, path: url.pathname, attempt: attempt + 1, failure, delay },
        "registry request failed; retrying",
      );
      await sleep(delay, deadline);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", abort, { once: true });
  });
}

function retryDelay(response: OutboundResponse | undefined, attempt: number, baseMs: number): number {
  const retryAfter = response?.headers.get("retry-after");
  if (retryAfter && /^\d+$/.test(retryAfter)) return Math.min(Number(retryAfter) * 1000, 30_000);
  // Full jitter keeps many scanners from retrying in lockstep.
  return Math.round(baseMs * 2 ** attempt * (0.5 + Math.random() / 2));
}

async function statusError(response: OutboundResponse, where: string, step: string): Promise<RegistryError> {
  const text = await response.text().catch(() => "");
  let detail = "";
  try {
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    detail = (body.errors ?? [])
      .slice(0, 5)
      .map((e) => [e.code, e.message].filter(Boolean).join(": "))
      .join("; ")
      .slice(0, 500);
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
