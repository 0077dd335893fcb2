// Delivery against real receivers on loopback: retries with backoff for a failing receiver (delivered once),
// none for a refusal, a tarpit that times out without holding up the caller or the other Providers, Flux's
// rate-limit window, bounded queues, proxies and private CAs, the outbound policy, and a canary Secret value
// that appears only where its provider puts it by design — never in another payload and never in a log line.
import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, test } from "vitest";
import { createNotifier, type DeliveryResult, type NotifierOptions } from "../../src/notify/deliver.js";
import { createEvent, type NotifyEvent } from "../../src/notify/event.js";
import { compileNotifications } from "../../src/notify/routing.js";
import { createOutboundPolicy } from "../../src/util/outbound/index.js";
import { secretForms } from "../../src/util/secret-scrub.js";
import {
  alert,
  bufferLogger,
  eventually,
  memorySecrets,
  parsed,
  provider,
  type Receiver,
  startProxy,
  startReceiver,
} from "./support.js";

const run = promisify(execFile);
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  closers.push(() => r.close());
  return r;
}

function event(
  message = "apply failed: Deployment/apps/web: spec.replicas: Invalid value",
  revision = "r1",
): NotifyEvent {
  return createEvent({
    involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "apps" },
    severity: "error",
    reason: "ReconciliationFailed",
    message,
    reportingController: "kustomize-controller",
    metadata: { revision, cluster: "dev" },
  });
}

const everyKustomization = { eventSources: [{ kind: "Kustomization", name: "*" }] };

function harness(options: Partial<NotifierOptions> = {}) {
  const results: DeliveryResult[] = [];
  const logger = bufferLogger();
  const notifier = createNotifier({
    policy: createOutboundPolicy({}),
    log: logger.log,
    retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 100 },
    onDelivery: (r) => results.push(r),
    ...options,
  });
  closers.push(() => notifier.close());
  return { notifier, results, logs: logger.text, lines: logger.lines };
}

function set(
  providers: [string, Record<string, unknown>][],
  secrets: Record<string, Record<string, string>> = {},
  scope = "acme/fleet:dev",
) {
  const objects = providers.flatMap(([name, spec]) => [
    provider(name, spec),
    alert(`to-${name}`, { providerRef: { name }, ...everyKustomization }),
  ]);
  const compiled = compileNotifications(parsed(...objects), { scope, secrets: memorySecrets(secrets) });
  expect(compiled.errors).toEqual([]);
  return compiled;
}

describe("retries", () => {
  test("a receiver that fails with 503 twice is retried with backoff and gets the notification once", async () => {
    const hook = await receiver([{ status: 503, body: "busy" }, { status: 502 }, { status: 200 }]);
    const { notifier, results } = harness();
    notifier.notify(event(), set([["hook", { type: "generic", address: `${hook.url}/x` }]]));
    await notifier.idle();
    expect(results).toEqual([
      expect.objectContaining({ outcome: "sent", attempts: 3, provider: "Provider/flux-system/hook" }),
    ]);
    expect(hook.requests).toHaveLength(3);
    // Each body is the same event; the receiver saw one notification delivered.
    expect(new Set(hook.requests.map((r) => r.body)).size).toBe(1);
    expect(hook.requests[1]!.at - hook.requests[0]!.at).toBeGreaterThanOrEqual(10);
  });

  test("a dropped connection is retried like a 5xx", async () => {
    const hook = await receiver(["drop", { status: 200 }]);
    const { notifier, results } = harness();
    notifier.notify(event(), set([["hook", { type: "generic", address: hook.url }]]));
    await notifier.idle();
    expect(results[0]).toMatchObject({ outcome: "sent", attempts: 2 });
  });

  test.each([400, 401, 404, 501])("a %i is not retried", async (status) => {
    const hook = await receiver([{ status, body: "no" }]);
    const { notifier, results } = harness();
    notifier.notify(event(), set([["hook", { type: "generic", address: hook.url }]]));
    await notifier.idle();
    expect(hook.requests).toHaveLength(1);
    expect(results[0]).toMatchObject({ outcome: "failed", attempts: 1 });
    expect(results[0]?.detail).toContain(`the receiver answered ${status}: no`);
  });

  test("a redirect is not followed (the notification is not re-sent elsewhere)", async () => {
    const elsewhere = await receiver();
    const hook = await receiver([{ status: 307, headers: { location: `${elsewhere.url}/catch` } }]);
    const { notifier, results } = harness();
    notifier.notify(event(), set([["hook", { type: "generic", address: hook.url }]]));
    await notifier.idle();
    expect(results[0]?.detail).toContain("the receiver answered 307 (redirects are not followed)");
    expect(hook.requests).toHaveLength(1);
    expect(elsewhere.requests).toHaveLength(0);
  });

  test("attempts are bounded: a receiver that always fails gets `attempts` requests", async () => {
    const hook = await receiver([{ status: 500 }]);
    const { notifier, results } = harness();
    notifier.notify(event(), set([["hook", { type: "generic", address: hook.url }]]));
    await notifier.idle();
    expect(hook.requests).toHaveLength(3);
    expect(results[0]).toMatchObject({ outcome: "failed", attempts: 3 });
  });
});

describe("a Provider that is down blocks nothing", () => {
  test("a tarpit times out; the caller returns at once and the other Providers get theirs first", async () => {
    const tarpit = await receiver(["tarpit"]);
    const healthy = await receiver();
    const { notifier, results } = harness({ retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 } });
    const notifications = set([
      ["slow", { type: "generic", address: tarpit.url, timeout: "300ms" }],
      ["fast", { type: "generic", address: healthy.url }],
    ]);
    const started = performance.now();
    const summary = notifier.notify(event(), notifications);
    const callerMs = performance.now() - started;
    expect(summary.queued.sort()).toEqual(["Provider/flux-system/fast", "Provider/flux-system/slow"]);
    expect(callerMs).toBeLessThan(50);
    await eventually(() => healthy.requests.length === 1, 2_000);
    expect(results.find((r) => r.provider === "Provider/flux-system/slow")).toBeUndefined();
    const t0 = Date.now();
    await notifier.idle();
    const slow = results.find((r) => r.provider === "Provider/flux-system/slow");
    expect(slow).toMatchObject({ outcome: "failed", attempts: 2 });
    expect(slow?.detail).toMatch(/no complete answer within 300 ms/);
    expect(tarpit.requests).toHaveLength(2);
    expect(Date.now() - t0).toBeLessThan(3_000);
    // Fast was reported before slow was done with.
    expect(results.map((r) => r.provider)).toEqual([
      "Provider/flux-system/fast",
      "Provider/flux-system/slow",
    ]);
  });

  test("one Provider's queue is bounded: the oldest waiting delivery is dropped and said so", async () => {
    const tarpit = await receiver(["tarpit"]);
    const { notifier, results } = harness({ queueLimit: 2, retry: { attempts: 1 } });
    const notifications = set([["slow", { type: "generic", address: tarpit.url, timeout: "200ms" }]]);
    for (let i = 0; i < 5; i++) notifier.notify(event(`failure ${i}`), notifications);
    expect(notifier.pending).toBeLessThanOrEqual(3);
    await notifier.idle();
    const dropped = results.filter((r) => r.outcome === "dropped");
    expect(dropped.length).toBeGreaterThanOrEqual(2);
    expect(dropped[0]?.detail).toMatch(/2 deliveries were waiting for Provider\/flux-system\/slow/);
    expect(results.filter((r) => r.outcome === "failed").length + dropped.length).toBe(5);
  });

  test("close() abandons waiting deliveries and aborts the one in flight", async () => {
    const tarpit = await receiver(["tarpit"]);
    const { notifier, results } = harness();
    const notifications = set([["slow", { type: "generic", address: tarpit.url, timeout: "30s" }]]);
    notifier.notify(event("one"), notifications);
    notifier.notify(event("two"), notifications);
    await eventually(() => tarpit.requests.length === 1);
    const t0 = Date.now();
    await notifier.close();
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(results.map((r) => r.outcome).sort()).toEqual(["dropped", "failed"]);
    expect(notifier.notify(event("three"), notifications).queued).toEqual([]);
  });
});

describe("rate limit", () => {
  test("an identical event within the window is not re-sent; a new revision or message is, and so is the same after the window", async () => {
    let now = 1_000_000;
    const hook = await receiver();
    const { notifier } = harness({ now: () => now, rateLimitWindowMs: 5 * 60_000 });
    const notifications = set([["hook", { type: "generic", address: hook.url }]]);
    expect(notifier.notify(event(), notifications).rateLimited).toBe(false);
    now += 60_000;
    expect(notifier.notify(event(), notifications)).toEqual({ rateLimited: true, queued: [], skipped: [] });
    expect(notifier.notify(event(undefined, "r2"), notifications).rateLimited).toBe(false);
    expect(notifier.notify(event("another failure"), notifications).rateLimited).toBe(false);
    now += 5 * 60_000;
    expect(notifier.notify(event(), notifications).rateLimited).toBe(false);
    await notifier.idle();
    expect(hook.requests).toHaveLength(4);
  });

  test("the window is kept per scope (repository × cluster)", async () => {
    const hook = await receiver();
    const { notifier } = harness();
    const spec: [string, Record<string, unknown>][] = [["hook", { type: "generic", address: hook.url }]];
    notifier.notify(event(), set(spec, {}, "acme/fleet:dev"));
    expect(notifier.notify(event(), set(spec, {}, "acme/fleet:prod")).rateLimited).toBe(false);
    await notifier.idle();
    expect(hook.requests).toHaveLength(2);
  });
});

describe("the outbound policy", () => {
  test("a denied host is refused without a connection and not retried", async () => {
    const hook = await receiver();
    const { notifier, results } = harness({ policy: createOutboundPolicy({ deny: ["127.0.0.0/8"] }) });
    notifier.notify(event(), set([["hook", { type: "generic", address: hook.url }]]));
    await notifier.idle();
    expect(hook.requests).toHaveLength(0);
    expect(results[0]).toMatchObject({ outcome: "failed", attempts: 1 });
    expect(results[0]?.detail).toMatch(/refused by the outbound policy: .*denied/);
  });

  test("cloud metadata addresses are refused", async () => {
    const { notifier, results } = harness();
    notifier.notify(
      event(),
      set([["meta", { type: "generic", address: "http://169.254.169.254/latest/meta-data/" }]]),
    );
    await notifier.idle();
    expect(results[0]?.detail).toMatch(/refused by the outbound policy: 169.254.169.254 is/);
  });

  test("through a proxy, the proxy and the receiver are both judged", async () => {
    const proxy = await startProxy();
    closers.push(() => proxy.close());
    const { notifier, results } = harness({ policy: createOutboundPolicy({ deny: ["10.0.0.0/8"] }) });
    notifier.notify(
      event(),
      set([["hook", { type: "generic", address: "http://10.1.2.3:80/", proxy: proxy.url }]]),
    );
    await notifier.idle();
    expect(proxy.connects).toHaveLength(0);
    expect(results[0]?.detail).toMatch(/the receiver: refused by the outbound policy/);
  });
});

describe("proxy and CA", () => {
  test("spec.proxy: the request goes through a CONNECT tunnel; the Secret's proxy credentials reach the proxy only", async () => {
    const hook = await receiver();
    const proxy = await startProxy();
    closers.push(() => proxy.close());
    const proxyPassword = "canary-proxy-pass-77";
    const { notifier, results, logs } = harness();
    notifier.notify(
      event(),
      set([["hook", { type: "generic", address: `${hook.url}/via-proxy`, secretRef: { name: "hook" } }]], {
        "flux-system/hook": { proxy: `${proxy.url.replace("http://", `http://ops:${proxyPassword}@`)}` },
      }),
    );
    await notifier.idle();
    expect(results[0]).toMatchObject({ outcome: "sent" });
    expect(proxy.connects).toEqual([
      {
        target: `127.0.0.1:${hook.port}`,
        authorization: `Basic ${Buffer.from(`ops:${proxyPassword}`).toString("base64")}`,
      },
    ]);
    expect(hook.requests[0]?.url).toBe("/via-proxy");
    expect(hook.requests[0]?.headers["proxy-authorization"]).toBeUndefined();
    expect(JSON.stringify(hook.requests)).not.toContain(proxyPassword);
    for (const form of secretForms(proxyPassword)) expect(logs()).not.toContain(form);
  });

  test("certSecretRef: an https receiver with a private CA is trusted through ca.crt, and refused without it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gitops-bot-notify-tls-"));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-days",
      "1",
      "-subj",
      "/CN=hooks.test",
      "-addext",
      "subjectAltName=DNS:hooks.test",
    ]);
    const cert = await readFile(join(dir, "cert.pem"), "utf8");
    const bodies: string[] = [];
    const server = https.createServer({ key: await readFile(join(dir, "key.pem")), cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        bodies.push(Buffer.concat(chunks).toString());
        res.end("ok");
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    closers.push(async () => {
      server.closeAllConnections();
      server.close();
    });
    const port = (server.address() as AddressInfo).port;
    const policy = createOutboundPolicy({}, async () => [{ address: "127.0.0.1", family: 4 }]);
    const { notifier, results } = harness({ policy, retry: { attempts: 1 } });
    const address = `https://hooks.test:${port}/flux`;
    notifier.notify(
      event(),
      set([["tls", { type: "generic", address, certSecretRef: { name: "ca" } }]], {
        "flux-system/ca": { "ca.crt": cert },
      }),
    );
    notifier.notify(event("without the CA"), set([["plain", { type: "generic", address }]]));
    const proxy = await startProxy();
    closers.push(() => proxy.close());
    notifier.notify(
      event("through a proxy"),
      set([["tunnel", { type: "generic", address, proxy: proxy.url, certSecretRef: { name: "ca" } }]], {
        "flux-system/ca": { "ca.crt": cert },
      }),
    );
    await notifier.idle();
    expect(results.find((r) => r.provider === "Provider/flux-system/tls")?.outcome).toBe("sent");
    // TLS to the receiver inside the CONNECT tunnel, verified for its name with the same CA.
    expect(results.find((r) => r.provider === "Provider/flux-system/tunnel")?.outcome).toBe("sent");
    expect(proxy.connects.map((c) => c.target)).toEqual([`hooks.test:${port}`]);
    const plain = results.find((r) => r.provider === "Provider/flux-system/plain");
    expect(plain?.outcome).toBe("failed");
    expect(plain?.detail).toMatch(/SELF_SIGNED|self.signed|certificate/i);
    expect(bodies).toHaveLength(2);
  });
});

describe("Secrets", () => {
  test("a missing Secret fails the delivery with its name, and nothing is sent", async () => {
    const hook = await receiver();
    const { notifier, results } = harness();
    notifier.notify(
      event(),
      set([["hook", { type: "generic", address: hook.url, secretRef: { name: "gone" } }]]),
    );
    await notifier.idle();
    expect(results[0]?.detail).toBe(
      "Provider/flux-system/hook: spec.secretRef: Secret flux-system/gone: not found",
    );
    expect(hook.requests).toHaveLength(0);
  });

  test("a canary token, password, webhook address and header value appear only where their provider puts them, and never in a log line", async () => {
    const token = "canary-TOKEN-Zq81xV0pL3";
    const password = "canary-PASSWORD-Hh27sK";
    const headerSecret = "canary-HEADER-Uu55mN";
    const hookPath = "/services/T0/B0/canaryWEBHOOKpath99";
    // Receivers that echo what they were sent, in failures that are logged and retried.
    const slack = await receiver([{ status: 500, body: `no such hook ${hookPath}` }, { status: 200 }]);
    const bot = await receiver([
      { status: 503, body: `unavailable for Bearer ${token}` },
      { status: 200, body: '{"ok":true}' },
    ]);
    const generic = await receiver([{ status: 400, body: `bad request, you sent ${headerSecret}` }]);
    const signed = await receiver();
    const dispatch = await receiver([{ status: 204 }]);
    const secretData = { token, password, headers: `X-Api-Key: ${headerSecret}` };
    const { notifier, results, logs, lines } = harness();
    notifier.notify(
      event(),
      set(
        [
          ["slack", { type: "slack", secretRef: { name: "slack-hook" } }],
          [
            "bot",
            {
              type: "slack",
              channel: "C1",
              address: `${bot.url}/api/chat.postMessage`,
              secretRef: { name: "s" },
            },
          ],
          ["generic", { type: "generic", address: generic.url, secretRef: { name: "s" } }],
          ["signed", { type: "generic-hmac", address: signed.url, secretRef: { name: "s" } }],
          [
            "dispatch",
            { type: "githubdispatch", address: `${dispatch.url}/acme/fleet`, secretRef: { name: "s" } },
          ],
        ],
        {
          "flux-system/slack-hook": { address: `${slack.url}${hookPath}`, token: "" },
          "flux-system/s": secretData,
        },
      ),
    );
    await notifier.idle();
    expect(results.map((r) => [r.provider, r.outcome]).sort()).toEqual([
      ["Provider/flux-system/bot", "sent"],
      ["Provider/flux-system/dispatch", "sent"],
      ["Provider/flux-system/generic", "failed"],
      ["Provider/flux-system/signed", "sent"],
      ["Provider/flux-system/slack", "sent"],
    ]);
    const byDesign: Record<string, string | string[] | undefined> = {
      bot: bot.requests[1]?.headers.authorization,
      dispatch: dispatch.requests[0]?.headers.authorization,
      generic: generic.requests[0]?.headers["x-api-key"],
    };
    expect(byDesign).toEqual({ bot: `Bearer ${token}`, dispatch: `Bearer ${token}`, generic: headerSecret });
    // Everything else every receiver got (bodies, and headers other than the designed ones) is clean.
    const others = [slack, bot, generic, signed, dispatch].flatMap((r) =>
      r.requests.map((req) => {
        const { authorization: _a, "x-api-key": _k, ...headers } = req.headers;
        return JSON.stringify({ body: req.body, headers });
      }),
    );
    for (const text of others) {
      for (const value of [token, password, headerSecret]) {
        for (const form of secretForms(value)) expect(text).not.toContain(form);
      }
    }
    // No log line and no reported detail carries any of them, in any encoding, nor the webhook's path.
    const reported = JSON.stringify(results);
    for (const value of [token, password, headerSecret, hookPath]) {
      for (const form of secretForms(value)) {
        expect(logs()).not.toContain(form);
        expect(reported).not.toContain(form);
      }
    }
    expect(lines.length).toBeGreaterThan(0);
    expect(results.find((r) => r.provider === "Provider/flux-system/generic")?.detail).toMatch(
      /^Provider\/flux-system\/generic: the receiver answered 400: bad request, you sent ?\*{5}$/,
    );
  });
});

describe("events that carry a Secret value by mistake", () => {
  test("the Provider's own Secret values are masked in the payload it sends", async () => {
    const token = "canary-slipped-TOKEN-9911";
    const hook = await receiver();
    const { notifier, results } = harness();
    const leaky = createEvent({
      involvedObject: { kind: "Kustomization", namespace: "flux-system", name: "apps" },
      severity: "error",
      reason: "ReconciliationFailed",
      message: `helm failed: invalid token ${token}`,
      reportingController: "kustomize-controller",
      metadata: { summary: `see ${token}` },
    });
    notifier.notify(
      leaky,
      set([["signed", { type: "generic-hmac", address: hook.url, secretRef: { name: "s" } }]], {
        "flux-system/s": { token },
      }),
    );
    await notifier.idle();
    expect(results[0]?.outcome).toBe("sent");
    expect(hook.requests[0]?.body).not.toContain(token);
    expect(JSON.parse(hook.requests[0]!.body).message).toBe("helm failed: invalid token *****");
  });
});
