// One bounded HTTP(S) request under the outbound policy: every hop's host is resolved and judged, and the
// connection goes to the judged addresses only (the lookup is pinned, so DNS cannot answer differently the
// second time); a whole-request timeout covers every hop and the body; the body is read while streaming and
// refused past its byte cap; redirects are followed by hand, a few at most; credentials (Authorization,
// Proxy-Authorization, Cookie, and user information in the URL) go only to the origin they were given for.
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { Readable } from "node:stream";
import type { IpAddress } from "./address.js";
import { OutboundPolicyError, OutboundRequestError } from "./errors.js";
import type { CheckedHost, OutboundPolicy } from "./policy.js";

export interface OutboundRequestOptions {
  policy: OutboundPolicy;
  method?: string;
  /** Request headers; the credential headers among them are sent to the first URL's origin only. */
  headers?: Record<string, string | undefined>;
  body?: string | Uint8Array;
  /** The whole request: every hop, and reading the body. */
  timeoutMs: number;
  /** The most body bytes read; more is an error before they are buffered. */
  maxBytes: number;
  /** Redirects followed (each re-checked by the policy); 0 returns the redirect itself. Default 5. */
  maxRedirects?: number;
  signal?: AbortSignal;
  /** TLS material for https hops (a source's certSecretRef): extra CA, client certificate and key. */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
}

export const defaultMaxRedirects = 5;

export interface OutboundResponse {
  status: number;
  headers: Headers;
  /** The URL that answered, after redirects (without user information). */
  url: URL;
  redirects: number;
  /** Whether the credentials given reached this response's origin (false after a cross-origin redirect). */
  credentialsSent: boolean;
  bytes(): Promise<Buffer>;
  text(): Promise<string>;
  json(): Promise<unknown>;
  /** The body as a stream that errors past the byte cap or the deadline; read it or call discard(). */
  stream(): Readable;
  discard(): void;
}

const credentialHeaders = new Set(["authorization", "proxy-authorization", "cookie"]);
const redirectStatuses = new Set([301, 302, 303, 307, 308]);

/** `GET https://host:port/path`, for messages: no user information, no query (either may hold a token). */
export function describeRequest(method: string, url: URL): string {
  return `${method} ${url.origin}${url.pathname}`;
}

/** Same host and port; and never in clear text after the credentials were given for TLS. */
function sameCredentialOrigin(origin: URL, target: URL): boolean {
  return origin.host === target.host && !(origin.protocol === "https:" && target.protocol !== "https:");
}

/** A DNS lookup that answers only with the addresses the policy judged (preferring the family asked for). */
export function pinnedLookup(addresses: IpAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const wanted = addresses.filter((a) => !options.family || a.family === options.family);
    const list = wanted.length > 0 ? wanted : addresses;
    if (options.all) {
      (callback as (err: null, list: { address: string; family: number }[]) => void)(
        null,
        list.map((a) => ({ address: a.text, family: a.family })),
      );
    } else {
      callback(null, list[0]!.text, list[0]!.family);
    }
  };
}

function toHeaders(message: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = message.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i]!, raw[i + 1]!);
    } catch {
      // A header the fetch Headers class refuses is not one we read.
    }
  }
  return headers;
}

interface Hop {
  url: URL;
  method: string;
  headers: OutgoingHttpHeaders;
  body?: Uint8Array;
  checked: CheckedHost;
  tls?: OutboundRequestOptions["tls"];
}

function send(hop: Hop, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = (hop.url.protocol === "https:" ? https : http).request({
      protocol: hop.url.protocol,
      hostname: hop.checked.host,
      port: hop.url.port || undefined,
      path: `${hop.url.pathname}${hop.url.search}`,
      method: hop.method,
      headers: hop.headers,
      agent: false,
      lookup: pinnedLookup(hop.checked.addresses),
      signal,
      // Certificates are checked against the URL's host name (SNI too), whatever address the lookup pinned.
      ...(hop.url.protocol === "https:" && hop.tls ? hop.tls : {}),
    });
    request.once("response", resolve);
    request.once("error", reject);
    request.end(hop.body);
  });
}

/**
 * Sends one request under the policy and returns the answer with its body unread. Throws OutboundPolicyError
 * when a hop is refused and OutboundRequestError when a bound is hit or the network fails.
 */
export async function outboundFetch(
  input: string | URL,
  options: OutboundRequestOptions,
): Promise<OutboundResponse> {
  const method = (options.method ?? "GET").toUpperCase();
  let url = new URL(input);
  const maxRedirects = options.maxRedirects ?? defaultMaxRedirects;

  const plain: OutgoingHttpHeaders = { "user-agent": "gitops-bot" };
  const credentials: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    if (key === "host" || key === "content-length" || key === "accept-encoding") continue;
    (credentialHeaders.has(key) ? credentials : plain)[key] = value;
  }
  if ((url.username || url.password) && credentials.authorization === undefined) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    credentials.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  }
  url.username = "";
  url.password = "";
  const credentialOrigin = new URL(url);
  const hasCredentials = Object.keys(credentials).length > 0;

  const controller = new AbortController();
  const first = describeRequest(method, url);
  const timer = setTimeout(
    () =>
      controller.abort(
        new OutboundRequestError(`${first}: no complete answer within ${options.timeoutMs} ms`, "timeout"),
      ),
    options.timeoutMs,
  );
  timer.unref();
  const signal = options.signal ? AbortSignal.any([controller.signal, options.signal]) : controller.signal;
  const finish = () => clearTimeout(timer);
  const abortReason = (error: unknown): unknown =>
    signal.aborted && signal.reason instanceof Error ? signal.reason : error;

  let body = typeof options.body === "string" ? Buffer.from(options.body) : options.body;
  let currentMethod = method;
  let redirects = 0;
  const where = () =>
    redirects === 0 ? first : `${first} (redirected to ${describeRequest(currentMethod, url)})`;
  try {
    for (;;) {
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new OutboundRequestError(`${where()}: only http and https are allowed`, "bad-redirect");
      }
      let checked: CheckedHost;
      try {
        checked = await options.policy.check(url.hostname);
      } catch (error) {
        if (error instanceof OutboundPolicyError) {
          throw new OutboundPolicyError(`${where()}: ${error.message}`, { cause: error });
        }
        throw error;
      }
      signal.throwIfAborted();
      const credentialsSent = hasCredentials && sameCredentialOrigin(credentialOrigin, url);
      const headers: OutgoingHttpHeaders = { ...plain, ...(credentialsSent ? credentials : {}) };
      if (body) headers["content-length"] = body.length;
      let response: IncomingMessage;
      try {
        response = await send(
          { url, method: currentMethod, headers, body, checked, tls: options.tls },
          signal,
        );
      } catch (error) {
        const reason = abortReason(error);
        if (reason instanceof OutboundRequestError) throw reason;
        const code = (error as { code?: string }).code;
        throw new OutboundRequestError(`${where()}: ${code ?? (error as Error).message}`, "network", {
          cause: error,
        });
      }
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (redirectStatuses.has(status) && location && maxRedirects > 0) {
        response.destroy();
        if (redirects >= maxRedirects) {
          throw new OutboundRequestError(
            `${where()}: more than ${maxRedirects} redirects`,
            "too-many-redirects",
          );
        }
        let next: URL;
        try {
          next = new URL(location, url);
        } catch (error) {
          throw new OutboundRequestError(`${where()}: redirect to an invalid URL`, "bad-redirect", {
            cause: error,
          });
        }
        next.username = "";
        next.password = "";
        if (status === 303 || ((status === 301 || status === 302) && currentMethod === "POST")) {
          if (currentMethod !== "HEAD") currentMethod = "GET";
          body = undefined;
          delete plain["content-type"];
        }
        url = next;
        redirects++;
        continue;
      }
      return bodyReader(response, {
        status,
        url,
        redirects,
        credentialsSent,
        where: where(),
        maxBytes: options.maxBytes,
        signal,
        finish,
      });
    }
  } catch (error) {
    finish();
    throw error;
  }
}

interface ReaderContext {
  status: number;
  url: URL;
  redirects: number;
  credentialsSent: boolean;
  where: string;
  maxBytes: number;
  signal: AbortSignal;
  finish: () => void;
}

function bodyReader(message: IncomingMessage, context: ReaderContext): OutboundResponse {
  const { where, maxBytes, signal, finish } = context;
  let taken = false;
  const tooLarge = () =>
    new OutboundRequestError(`${where}: the answer is larger than the ${maxBytes}-byte limit`, "too-large");

  async function* chunks(): AsyncGenerator<Buffer> {
    if (taken) throw new Error(`${where}: the body was already read`);
    taken = true;
    try {
      const length = Number(message.headers["content-length"] ?? 0);
      if (length > maxBytes) throw tooLarge();
      let total = 0;
      for await (const chunk of message as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > maxBytes) throw tooLarge();
        yield chunk;
      }
    } catch (error) {
      if (signal.aborted && signal.reason instanceof OutboundRequestError) throw signal.reason;
      if (error instanceof OutboundRequestError) throw error;
      const code = (error as { code?: string }).code;
      throw new OutboundRequestError(
        `${where}: reading the answer: ${code ?? (error as Error).message}`,
        "network",
        {
          cause: error,
        },
      );
    } finally {
      message.destroy();
      finish();
    }
  }

  async function bytes(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of chunks()) parts.push(chunk);
    return Buffer.concat(parts);
  }

  return {
    status: context.status,
    headers: toHeaders(message),
    url: context.url,
    redirects: context.redirects,
    credentialsSent: context.credentialsSent,
    bytes,
    text: async () => (await bytes()).toString("utf8"),
    json: async () => {
      const text = (await bytes()).toString("utf8");
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        throw new OutboundRequestError(`${where}: the answer is not JSON`, "network", { cause: error });
      }
    },
    stream: () => Readable.from(chunks(), { objectMode: false }),
    discard: () => {
      taken = true;
      message.destroy();
      finish();
    },
  };
}
