// The one way a provider POSTs: under the outbound policy (util/outbound's bounded fetch, or the proxy tunnel
// when the Provider names a proxy), with the Provider's CA, one attempt's timeout, redirects not followed (a
// notification is not re-sent to wherever a receiver points), and the answer read up to a small bound. The
// answer is judged as Flux's client judges it: 2xx is delivered; 5xx (but 501), 429, network failures and
// timeouts may pass on a retry; anything else will not.
import {
  type OutboundPolicy,
  OutboundPolicyError,
  OutboundRequestError,
  outboundFetch,
} from "../../util/outbound/index.js";
import { DeliveryError } from "../errors.js";
import type { HttpAnswer, HttpRequest } from "../providers/types.js";
import { postThroughProxy } from "./proxy.js";

/** Receivers answer a notification with a few bytes; more is read only up to this, to explain a failure. */
export const maxAnswerBytes = 64 * 1024;

export interface HttpTransportOptions {
  policy: OutboundPolicy;
  timeoutMs: number;
  proxy?: string;
  ca?: string;
  signal?: AbortSignal;
}

/** Whether an HTTP status may pass on a later attempt (retryablehttp's default policy, which Flux uses). */
export function retryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501);
}

function excerpt(body: string): string {
  const text = body.replace(/\s+/g, " ").trim();
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function judge(status: number, body: string): HttpAnswer {
  if (status >= 200 && status < 300) return { status, body };
  const said = excerpt(body);
  const redirect = status >= 300 && status < 400 ? " (redirects are not followed)" : "";
  throw new DeliveryError(
    `the receiver answered ${status}${redirect}${said ? `: ${said}` : ""}`,
    retryableStatus(status),
  );
}

export async function postJson(request: HttpRequest, options: HttpTransportOptions): Promise<HttpAnswer> {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    throw new DeliveryError("the address is not a URL", false);
  }
  const body = Buffer.from(request.body);
  const headers = { "content-type": "application/json", ...request.headers };
  if (options.proxy) {
    let proxy: URL;
    try {
      proxy = new URL(options.proxy);
    } catch {
      throw new DeliveryError("the proxy is not a URL", false);
    }
    const answer = await postThroughProxy(url, {
      policy: options.policy,
      proxy,
      headers,
      body,
      timeoutMs: options.timeoutMs,
      maxBytes: maxAnswerBytes,
      ...(options.ca ? { ca: options.ca } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return judge(answer.status, answer.body.toString("utf8"));
  }
  try {
    const response = await outboundFetch(url, {
      policy: options.policy,
      method: "POST",
      headers,
      body,
      timeoutMs: options.timeoutMs,
      maxBytes: maxAnswerBytes,
      maxRedirects: 0,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.ca ? { tls: { ca: options.ca } } : {}),
    });
    let text = "";
    try {
      text = await response.text();
    } catch {
      // The body only explains the status: a 2xx whose body cannot be read was still delivered, and a
      // failure is judged by its status alone.
    }
    return judge(response.status, text);
  } catch (error) {
    if (error instanceof DeliveryError) throw error;
    if (error instanceof OutboundPolicyError) throw new DeliveryError(error.message, false, { cause: error });
    if (error instanceof OutboundRequestError) {
      throw new DeliveryError(error.message, error.failure === "timeout" || error.failure === "network", {
        cause: error,
      });
    }
    throw new DeliveryError((error as Error).message, true, { cause: error });
  }
}
