// client-node's HttpLibrary on Node's own http/https modules. client-node's default (IsomorphicFetchHttpLibrary)
// goes through node-fetch: a Headers object, a Body stream wrapper, redirect handling and an abort bridge per
// request, about a third of the engine's CPU per API request on a cold apply of hundreds of objects. This sends
// the same request (method, URL, headers, body, the pooled agent, the abort signal) straight to the agent.
// What it does differently, on purpose:
// - redirects are not followed: an API server does not redirect, and following one would send the kubeconfig's
//   bearer token to wherever a redirect points (node-fetch follows up to 20);
// - gzip and deflate answers are decoded as node-fetch does (the API server compresses large LIST answers).
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { createGunzip, createInflate } from "node:zlib";
import { type HttpLibrary, Observable, type RequestContext, ResponseContext } from "@kubernetes/client-node";

/** Why a request failed before an answer came, worded like node-fetch's (callers match on the reason). */
export class KubeRequestError extends Error {
  constructor(
    url: string,
    readonly reason: Error,
  ) {
    super(`request to ${url} failed, reason: ${reason.message}`, { cause: reason });
    this.name = reason.name === "AbortError" ? "AbortError" : "FetchError";
  }
}

/**
 * The whole body, decoded. A connection that closes before the body is complete rejects with ECONNRESET (as Node
 * names it; a GET is then sent again, see ssa/read.ts), or with the abort when the request's signal ended it.
 */
function readAll(response: IncomingMessage, signal: AbortSignal | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      // A body that cannot be read keeps no pooled socket.
      response.destroy();
      if (signal?.aborted) {
        reject(Object.assign(new Error("The operation was aborted", { cause: err }), { name: "AbortError" }));
      } else reject(err);
    };
    // No body to decode (an empty answer says gzip too, sometimes).
    const empty = response.statusCode === 204 || response.statusCode === 304;
    const encoding = empty ? "" : String(response.headers["content-encoding"] ?? "").toLowerCase();
    const body: NodeJS.ReadableStream =
      encoding === "gzip" || encoding === "x-gzip"
        ? response.pipe(createGunzip())
        : encoding === "deflate"
          ? response.pipe(createInflate())
          : response;
    const chunks: Buffer[] = [];
    body.on("data", (chunk: Buffer) => chunks.push(chunk));
    body.on("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    body.on("error", fail);
    response.on("error", fail);
    response.on("aborted", () =>
      fail(
        Object.assign(new Error("the connection closed before the answer was complete"), {
          code: "ECONNRESET",
        }),
      ),
    );
  });
}

function responseHeaders(response: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

export class NodeHttpLibrary implements HttpLibrary {
  send(request: RequestContext): Observable<ResponseContext> {
    return new Observable(this.sendAsync(request));
  }

  private sendAsync(request: RequestContext): Promise<ResponseContext> {
    const url = request.getUrl();
    const target = new URL(url);
    const body = request.getBody() as unknown;
    if (body !== undefined && typeof body !== "string" && !Buffer.isBuffer(body)) {
      return Promise.reject(new Error(`request to ${url}: only string and Buffer bodies are sent`));
    }
    const headers: OutgoingHttpHeaders = {
      "accept-encoding": "gzip, deflate",
      ...request.getHeaders(),
    };
    if (body !== undefined) headers["content-length"] = Buffer.byteLength(body);
    const send = target.protocol === "http:" ? httpRequest : httpsRequest;
    // client-node types the signal as node-fetch's; at run time it is the platform's AbortSignal.
    const signal = request.getSignal() as AbortSignal | undefined;
    return new Promise<ResponseContext>((resolve, reject) => {
      const req = send(target, {
        method: request.getHttpMethod().toString(),
        headers,
        agent: request.getAgent() as never,
        ...(signal ? { signal } : {}),
      });
      req.on("error", (err) => reject(new KubeRequestError(url, err)));
      req.on("response", (response) => {
        // Read at once (a body read late could miss its connection's end), whether or not the caller asks.
        const body = readAll(response, signal).catch((err: Error) => {
          throw new KubeRequestError(url, err);
        });
        body.catch(() => {}); // a caller that never reads it is not an unhandled rejection
        const read = () => body;
        resolve(
          new ResponseContext(response.statusCode ?? 0, responseHeaders(response), {
            text: () => read().then((b) => b.toString("utf8")),
            binary: read,
          }),
        );
      });
      req.end(body);
    });
  }
}
