// Email over SMTP with nodemailer, under the outbound policy: the server's host is judged (and resolved) by the
// policy first, and nodemailer connects to the address the policy allowed, with TLS still verified against the
// host name (SNI and certificate). The address is `smtp://host[:port]` (port 587 by default; STARTTLS when the
// server offers it, and required when a password is sent), `smtps://host[:port]` (TLS from the first byte, port
// 465 by default) or a bare `host[:port]` (as smtp://). Credentials are the Secret's username and password, or
// the URL's user information. One deadline covers connecting, the greeting, authentication and the message.
import nodemailer from "nodemailer";
import { type OutboundPolicy, OutboundPolicyError } from "../../util/outbound/index.js";
import { DeliveryError } from "../errors.js";
import type { MailMessage } from "../providers/types.js";

export interface SmtpServer {
  host: string;
  port: number;
  /** TLS from the start (smtps). */
  implicitTls: boolean;
  username?: string;
  password?: string;
}

/** Reads an SMTP address; the message never repeats the address (it may hold a password). */
export function parseSmtpAddress(address: string): SmtpServer | string {
  const bare = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;
  if (!address.includes("://") && !bare.test(address)) {
    return "must be smtp://host[:port], smtps://host[:port] or host[:port]";
  }
  const text = address.includes("://") ? address : `smtp://${address}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "is not an SMTP address (smtp://host:port, smtps://host:port or host:port)";
  }
  const scheme = url.protocol.toLowerCase();
  if (scheme !== "smtp:" && scheme !== "smtps:") {
    return "must be smtp://host[:port], smtps://host[:port] or host[:port]";
  }
  if (!url.hostname) return "names no host";
  if (url.pathname && url.pathname !== "/") return "must not have a path";
  const implicitTls = scheme === "smtps:";
  return {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(url.port || (implicitTls ? 465 : 587)),
    implicitTls,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
}

export interface SmtpSendOptions {
  policy: OutboundPolicy;
  server: SmtpServer;
  timeoutMs: number;
  ca?: string;
  signal?: AbortSignal;
}

// SMTP replies 4xx are transient by definition; 5xx are permanent. Connection-level failures may pass.
function classify(error: unknown): DeliveryError {
  const { code, responseCode, response, command } = error as {
    code?: string;
    responseCode?: number;
    response?: string;
    command?: string;
  };
  const said = typeof response === "string" ? `: ${response.slice(0, 200)}` : "";
  if (typeof responseCode === "number") {
    const to = command ? ` to ${command.split(" ")[0]}` : "";
    const why = command === "STARTTLS" ? " (TLS is required to send the password)" : "";
    return new DeliveryError(
      `the SMTP server answered ${responseCode}${to}${said}${why}`,
      responseCode >= 400 && responseCode < 500,
      { cause: error },
    );
  }
  if (code === "EAUTH") {
    return new DeliveryError("the SMTP server refused the credentials", false, { cause: error });
  }
  const transient = code === "ECONNECTION" || code === "ETIMEDOUT" || code === "ESOCKET" || code === "EDNS";
  return new DeliveryError(`SMTP: ${code ?? "error"}: ${(error as Error).message}`, transient || !code, {
    cause: error,
  });
}

export async function sendSmtpMail(message: MailMessage, options: SmtpSendOptions): Promise<void> {
  const { server } = options;
  let allowed: Awaited<ReturnType<OutboundPolicy["check"]>>;
  try {
    allowed = await options.policy.check(server.host);
  } catch (error) {
    if (error instanceof OutboundPolicyError) {
      throw new DeliveryError(`the SMTP server: ${error.message}`, false, { cause: error });
    }
    throw error;
  }
  const auth = server.username ? { user: server.username, pass: server.password ?? "" } : undefined;
  const transport = nodemailer.createTransport({
    host: allowed.addresses[0]!.text,
    port: server.port,
    secure: server.implicitTls,
    // A password never crosses the network in clear text.
    requireTLS: !server.implicitTls && Boolean(auth?.pass),
    ...(auth ? { auth } : {}),
    tls: { servername: server.host, ...(options.ca ? { ca: options.ca } : {}) },
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
    logger: false,
    debug: false,
  });
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    const fail = () => {
      transport.close();
      reject(new DeliveryError(`no answer from the SMTP server within ${options.timeoutMs} ms`, true));
    };
    timer = setTimeout(fail, options.timeoutMs);
    timer.unref();
    onAbort = fail;
    options.signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([
      transport.sendMail({
        from: message.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
      }),
      deadline,
    ]);
  } catch (error) {
    if (error instanceof DeliveryError) throw error;
    throw classify(error);
  } finally {
    clearTimeout(timer);
    if (onAbort) options.signal?.removeEventListener("abort", onAbort);
    transport.close();
  }
}
