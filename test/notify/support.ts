// Test helpers for notifications: real receivers on loopback (HTTP servers that record every request, a CONNECT
// proxy, an SMTP server), a logger writing to a buffer, Secrets served from memory, and Provider/Alert objects.
import { once } from "node:events";
import http, { type IncomingHttpHeaders } from "node:http";
import net, { type AddressInfo } from "node:net";
import type { KubernetesObject } from "@kubernetes/client-node";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import { type FluxNotificationObject, parseNotificationObject } from "../../src/flux/notification.js";
import { createLogger } from "../../src/observability/logger.js";
import type { SecretReader } from "../../src/source/credentials.js";

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export type Answer = { status: number; body?: string; headers?: Record<string, string> } | "tarpit" | "drop";

export interface Receiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Answers in turn; the last one repeats. */
  answers: Answer[];
  close(): Promise<void>;
}

export async function startReceiver(answers: Answer[] = [{ status: 200, body: "ok" }]): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const receiver = { requests, answers } as Receiver;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        at: Date.now(),
      });
      const list = receiver.answers;
      const answer = list[Math.min(requests.length - 1, list.length - 1)] ?? { status: 200 };
      if (answer === "tarpit") return; // never answers
      if (answer === "drop") {
        req.socket.destroy();
        return;
      }
      res.writeHead(answer.status, { "content-type": "text/plain", ...answer.headers });
      res.end(answer.body ?? "");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  receiver.port = port;
  receiver.url = `http://127.0.0.1:${port}`;
  receiver.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return receiver;
}

export interface ProxyServer {
  url: string;
  connects: { target: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

/** An HTTP CONNECT proxy that tunnels to loopback and records what it was asked. */
export async function startProxy(): Promise<ProxyServer> {
  const connects: ProxyServer["connects"] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => {
    res.writeHead(405);
    res.end();
  });
  server.on("connect", (req, client: net.Socket, head: Buffer) => {
    sockets.add(client);
    connects.push({ target: req.url ?? "", authorization: req.headers["proxy-authorization"] });
    const [host, port] = (req.url ?? "").split(":");
    // Every name is served on loopback, as the tests' resolvers say; the proxy does its own lookup.
    const upstream = net.connect(Number(port), net.isIP(host ?? "") ? host : "127.0.0.1", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    connects,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface MailReceiver {
  port: number;
  messages: { parsed: ParsedMail; envelope: { from: string; to: string[] }; user?: string; raw: string }[];
  logins: { username: string; password: string }[];
  close(): Promise<void>;
}

/** A real SMTP server (smtp-server) that parses every message with mailparser. */
export async function startMailReceiver(
  options: { users?: Record<string, string>; key?: Buffer; cert?: Buffer } = {},
): Promise<MailReceiver> {
  const messages: MailReceiver["messages"] = [];
  const logins: MailReceiver["logins"] = [];
  const tls = Boolean(options.key && options.cert);
  const config: SMTPServerOptions = {
    secure: false,
    authOptional: !options.users,
    disabledCommands: tls ? [] : ["STARTTLS"],
    ...(tls ? { key: options.key, cert: options.cert } : {}),
    logger: false,
    onAuth(auth, _session, callback) {
      logins.push({ username: auth.username ?? "", password: auth.password ?? "" });
      if (options.users && options.users[auth.username ?? ""] === auth.password) {
        callback(null, { user: auth.username });
      } else callback(new Error("Invalid username or password"));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", async () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const parsed = await simpleParser(raw);
        messages.push({
          parsed,
          raw,
          envelope: {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
          },
          ...(typeof session.user === "string" ? { user: session.user } : {}),
        });
        callback();
      });
    },
  };
  const server = new SMTPServer(config);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    messages,
    logins,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A pino logger (the process's, with its redaction) writing to a buffer. */
export function bufferLogger() {
  const lines: string[] = [];
  const log = createLogger({ level: "debug", destination: { write: (s: string) => void lines.push(s) } });
  return { log, lines, text: () => lines.join("") };
}

/** Secrets from memory, keyed `namespace/name`; a missing one fails as the cluster reader does. */
export function memorySecrets(secrets: Record<string, Record<string, string>>): SecretReader & {
  reads: string[];
} {
  const reads: string[] = [];
  const reader = async (namespace: string, name: string) => {
    reads.push(`${namespace}/${name}`);
    const data = secrets[`${namespace}/${name}`];
    if (!data) throw new Error(`Secret ${namespace}/${name}: not found`);
    return { ...data };
  };
  return Object.assign(reader, { reads });
}

export function provider(
  name: string,
  spec: Record<string, unknown>,
  namespace = "flux-system",
): KubernetesObject {
  return {
    apiVersion: "notification.toolkit.fluxcd.io/v1beta3",
    kind: "Provider",
    metadata: { name, namespace },
    spec,
  } as KubernetesObject;
}

export function alert(
  name: string,
  spec: Record<string, unknown>,
  namespace = "flux-system",
): KubernetesObject {
  return {
    apiVersion: "notification.toolkit.fluxcd.io/v1beta3",
    kind: "Alert",
    metadata: { name, namespace },
    spec,
  } as KubernetesObject;
}

export function parsed(...objects: KubernetesObject[]): FluxNotificationObject[] {
  return objects.map((o) => parseNotificationObject(o, "clusters/dev/notifications.yaml"));
}

/** Waits until `predicate` holds, polling; fails after `ms`. */
export async function eventually(predicate: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
