// A POST through a Provider's HTTP proxy (spec.proxy, or the Secret's `proxy`): an HTTP CONNECT tunnel to the
// receiver, then TLS to the receiver inside it for https. util/outbound's fetch has no proxy support, so the
// tunnel lives here, under the same rules: the proxy's host is judged by the outbound policy and the connection
// pinned to the addresses it allowed; the receiver's host is judged too (the proxy resolves it, but a name or
// address the policy denies is refused before the proxy is asked); one deadline covers the tunnel, the request
// and the answer; the answer is read up to a byte bound. Proxy credentials come from the proxy URL's user
// information and go to the proxy only.
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import tls from "node:tls";
import type { IpAddress, OutboundPolicy } from "../../util/outbound/index.js";
import { OutboundPolicyError, pinnedLookup } from "../../util/outbound/index.js";
import { DeliveryError } from "../errors.js";

export interface ProxyPostOptions {
  policy: OutboundPolicy;
  proxy: URL;
  headers: Record<string, string>;
  body: Buffer;
  timeoutMs: number;
  maxBytes: number;
  ca?: string;
  signal?: AbortSignal;
}

export interface ProxyAnswer {
  status: number;
  body: Buffer;
}

function defaultPort(url: URL): number {
  return Number(url.port || (url.protocol === "https:" ? 443 : 80));
}

async function judged(policy: OutboundPolicy, host: string, what: string) {
  try {
    return await policy.check(host);
  } catch (error) {
    if (error instanceof OutboundPolicyError) {
      throw new DeliveryError(`${what}: ${error.message}`, false, { cause: error });
    }
    throw error;
  }
}

/** Opens a CONNECT tunnel through the proxy to `target`'s host and port. */
function openTunnel(options: ProxyPostOptions, target: URL, addresses: IpAddress[], signal: AbortSignal) {
  const { proxy } = options;
  const authority = `${target.hostname}:${defaultPort(target)}`;
  const headers: Record<string, string> = { host: authority };
  if (proxy.username || proxy.password) {
    const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    headers["proxy-authorization"] = `Basic ${Buffer.from(credentials).toString("base64")}`;
  }
  return new Promise<Socket>((resolve, reject) => {
    const request = (proxy.protocol === "https:" ? https : http).request({
      hostname: proxy.hostname,
      port: defaultPort(proxy),
      method: "CONNECT",
      path: authority,
      headers,
      agent: false,
      lookup: pinnedLookup(addresses),
      signal,
      ...(proxy.protocol === "https:" && options.ca ? { ca: options.ca } : {}),
    });
    request.once("connect", (response: IncomingMessage, socket: Socket) => {
      if (response.statusCode !== 200) {
        socket.destroy();
        const status = response.statusCode ?? 0;
        reject(
          new DeliveryError(
            `the proxy answered ${status} to CONNECT${status === 407 ? " (check the proxy's credentials)" : ""}`,
            status >= 500,
          ),
        );
        return;
      }
      resolve(socket);
    });
    request.once("error", (error) => reject(error));
    request.end();
  });
}

function secureTunnel(socket: Socket, target: URL, ca: string | undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const secured = tls.connect({ socket, servername: target.hostname, ...(ca ? { ca } : {}) });
    secured.once("secureConnect", () => resolve(secured));
    secured.once("error", reject);
  });
}

function readAnswer(response: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let total = 0;
    response.on("data", (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        response.destroy();
        // The answer only explains a failure; its first bytes are enough.
        resolve(Buffer.concat(parts));
        return;
      }
      parts.push(chunk);
    });
    response.once("end", () => resolve(Buffer.concat(parts)));
    response.once("error", reject);
    response.once("close", () => {
      if (!response.complete) reject(new Error("the connection closed before the answer was complete"));
    });
  });
}

/** POSTs `body` to `target` through the proxy; network failures and the deadline are DeliveryErrors. */
export async function postThroughProxy(target: URL, options: ProxyPostOptions): Promise<ProxyAnswer> {
  if (options.proxy.protocol !== "http:" && options.proxy.protocol !== "https:") {
    throw new DeliveryError("the proxy must be an http:// or https:// URL", false);
  }
  const proxyHost = await judged(options.policy, options.proxy.hostname, "the proxy");
  await judged(options.policy, target.hostname, "the receiver");

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  timer.unref();
  const signal = options.signal ? AbortSignal.any([controller.signal, options.signal]) : controller.signal;
  const sockets: Socket[] = [];
  const onAbort = () => {
    for (const socket of sockets) socket.destroy();
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const tunnel = await openTunnel(options, target, proxyHost.addresses, signal);
    sockets.push(tunnel);
    const socket = target.protocol === "https:" ? await secureTunnel(tunnel, target, options.ca) : tunnel;
    sockets.push(socket);
    signal.throwIfAborted();
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = http.request({
        createConnection: () => socket,
        host: target.hostname,
        port: defaultPort(target),
        method: "POST",
        path: `${target.pathname}${target.search}`,
        headers: {
          "user-agent": "gitops-bot",
          ...options.headers,
          host: target.host,
          "content-length": options.body.length,
        },
      });
      request.once("response", resolve);
      request.once("error", reject);
      request.end(options.body);
    });
    const body = await readAnswer(response, options.maxBytes);
    return { status: response.statusCode ?? 0, body };
  } catch (error) {
    if (error instanceof DeliveryError) throw error;
    if (signal.aborted) {
      throw new DeliveryError(`no complete answer through the proxy within ${options.timeoutMs} ms`, true, {
        cause: error,
      });
    }
    const code = (error as { code?: string }).code;
    throw new DeliveryError(`through the proxy: ${code ?? (error as Error).message}`, true, { cause: error });
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    for (const socket of sockets) socket.destroy();
  }
}
