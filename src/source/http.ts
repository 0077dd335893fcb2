// HTTP for sources (Helm repositories, OCI registries) through the outbound policy (src/util/outbound): hosts
// and redirects judged, credentials only to the origin they were given for, bodies bounded while they stream.
// Every request of one source fetch shares one deadline, the source's (capped) timeout, so a server that
// tarpits or trickles ends the fetch with "timed out after N s", not only the request.
import { createWriteStream } from "node:fs";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  describeRequest,
  type OutboundPolicy,
  OutboundPolicyError,
  OutboundRequestError,
  type OutboundResponse,
  outboundFetch,
} from "../util/outbound/index.js";

/** The time one source fetch has, from its start: every request of the fetch draws on it. */
export class Deadline {
  private readonly ends: number;
  readonly signal: AbortSignal;

  constructor(readonly timeoutMs: number) {
    this.ends = Date.now() + timeoutMs;
    this.signal = AbortSignal.timeout(timeoutMs);
  }

  remainingMs(): number {
    return Math.max(1, this.ends - Date.now());
  }

  expired(): boolean {
    return this.signal.aborted || Date.now() >= this.ends;
  }

  message(): string {
    return `timed out after ${formatMs(this.timeoutMs)}`;
  }
}

export interface SourceRequest {
  policy: OutboundPolicy;
  deadline: Deadline;
  headers?: Record<string, string | undefined>;
  /** The largest body read. */
  maxBytes: number;
  maxRedirects?: number;
}

/** One GET under the policy; failures in words, naming the request: `GET http://host/path: timed out after 30 s`. */
export async function sourceGet(url: string | URL, request: SourceRequest): Promise<OutboundResponse> {
  const target = new URL(url);
  const what = describeRequest("GET", target);
  if (request.deadline.expired()) throw new Error(`${what}: ${request.deadline.message()}`);
  try {
    return await outboundFetch(target, {
      policy: request.policy,
      headers: request.headers,
      timeoutMs: request.deadline.remainingMs(),
      signal: request.deadline.signal,
      maxBytes: request.maxBytes,
      ...(request.maxRedirects === undefined ? {} : { maxRedirects: request.maxRedirects }),
    });
  } catch (err) {
    throw describeFailure(err, what, request.deadline);
  }
}

/** The body as bytes (bounded by the request's maxBytes). */
export async function readBody(response: OutboundResponse, deadline: Deadline): Promise<Buffer> {
  try {
    return await response.bytes();
  } catch (err) {
    throw describeFailure(err, describeRequest("GET", response.url), deadline);
  }
}

/** Streams the body into a new file at `path` (never an existing one), handing each chunk to `onChunk`. */
export async function writeBody(
  response: OutboundResponse,
  path: string,
  deadline: Deadline,
  onChunk: (chunk: Buffer) => void,
): Promise<void> {
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onChunk(chunk);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(response.stream(), tap, createWriteStream(path, { flags: "wx", mode: 0o644 }));
  } catch (err) {
    throw describeFailure(err, describeRequest("GET", response.url), deadline);
  }
}

function describeFailure(err: unknown, what: string, deadline: Deadline): Error {
  if (deadline.expired() || (err instanceof OutboundRequestError && err.failure === "timeout"))
    return new Error(`${what}: ${deadline.message()}`, { cause: err });
  // Policy refusals and bounds already name the request.
  if (err instanceof OutboundPolicyError || err instanceof OutboundRequestError) return err;
  return new Error(`${what}: ${(err as Error).message}`, { cause: err });
}

/** "HTTP 404", with a hint for 401. */
export function statusText(status: number): string {
  return `HTTP ${status}${status === 401 ? " (check the secretRef credentials)" : ""}`;
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}
