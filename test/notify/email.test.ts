// Email over SMTP, received by a real SMTP server (smtp-server) and read back with mailparser: the message,
// STARTTLS with the Provider's CA and a login from the Secret (never in clear text, never in a log), and the
// outbound policy judging the SMTP host before anything connects.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { createNotifier, type DeliveryResult, type NotifierOptions } from "../../src/notify/deliver.js";
import { createEvent } from "../../src/notify/event.js";
import { compileNotifications } from "../../src/notify/routing.js";
import { createOutboundPolicy } from "../../src/util/outbound/index.js";
import { secretForms } from "../../src/util/secret-scrub.js";
import {
  alert,
  bufferLogger,
  type MailReceiver,
  memorySecrets,
  parsed,
  provider,
  startMailReceiver,
} from "./support.js";

const run = promisify(execFile);
// mail.test is the SMTP server's name in its certificate; it resolves to the loopback receiver.
const policy = createOutboundPolicy({}, async () => [{ address: "127.0.0.1", family: 4 }]);

let dir: string;
let key: Buffer;
let cert: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gitops-bot-notify-smtp-"));
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
    "/CN=mail.test",
    "-addext",
    "subjectAltName=DNS:mail.test",
  ]);
  key = await readFile(join(dir, "key.pem"));
  cert = await readFile(join(dir, "cert.pem"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const receivers: MailReceiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

const failure = createEvent({
  involvedObject: { kind: "HelmRelease", namespace: "apps", name: "podinfo" },
  severity: "error",
  reason: "UpgradeFailed",
  message:
    "Helm upgrade failed for release apps/podinfo with chart podinfo@6.5.1: timed out waiting for the condition",
  reportingController: "helm-controller",
  timestamp: new Date("2024-05-01T10:00:00Z"),
  metadata: { revision: "6.5.1", cluster: "prod", repository: "acme/fleet" },
});

async function send(
  spec: Record<string, unknown>,
  secrets: Record<string, Record<string, string>>,
  options: Partial<NotifierOptions> = {},
) {
  const results: DeliveryResult[] = [];
  const logger = bufferLogger();
  const notifier = createNotifier({
    policy,
    log: logger.log,
    retry: { attempts: 1 },
    onDelivery: (r) => results.push(r),
    ...options,
  });
  const set = compileNotifications(
    parsed(
      provider("mail", { type: "email", ...spec }, "apps"),
      alert(
        "on-call",
        {
          providerRef: { name: "mail" },
          eventSeverity: "error",
          eventSources: [{ kind: "HelmRelease", name: "*" }],
        },
        "apps",
      ),
    ),
    { scope: "acme/fleet:prod", secrets: memorySecrets(secrets) },
  );
  expect(set.errors).toEqual([]);
  notifier.notify(failure, set);
  await notifier.idle();
  return { results, logs: logger.text() };
}

describe("email", () => {
  test("one plain-text message per event, from and to from the Secret", async () => {
    const mail = await startMailReceiver();
    receivers.push(mail);
    const { results } = await send(
      { address: `smtp://mail.test:${mail.port}`, secretRef: { name: "smtp" } },
      { "apps/smtp": { from: "gitops-bot@acme.test", to: "oncall@acme.test, sre@acme.test" } },
    );
    expect(results).toEqual([expect.objectContaining({ outcome: "sent", type: "email" })]);
    expect(mail.messages).toHaveLength(1);
    const [message] = mail.messages;
    expect(message?.envelope).toEqual({
      from: "gitops-bot@acme.test",
      to: ["oncall@acme.test", "sre@acme.test"],
    });
    expect(message?.parsed.subject).toBe("[error] HelmRelease/apps/podinfo: UpgradeFailed");
    expect(message?.parsed.from?.text).toBe("gitops-bot@acme.test");
    expect(message?.parsed.text).toContain(failure.message);
    expect(message?.parsed.text).toMatch(/object: +HelmRelease\/apps\/podinfo/);
    expect(message?.parsed.text).toMatch(/revision: +6\.5\.1/);
    expect(message?.parsed.text).toMatch(/cluster: +prod/);
  });

  test("a bare host:port is smtp://, and spec.channel gives the recipients when the Secret has no `to`", async () => {
    const mail = await startMailReceiver();
    receivers.push(mail);
    const { results } = await send(
      { address: `mail.test:${mail.port}`, channel: "team@acme.test", secretRef: { name: "smtp" } },
      { "apps/smtp": { from: "bot@acme.test" } },
    );
    expect(results[0]?.outcome).toBe("sent");
    expect(mail.messages[0]?.envelope.to).toEqual(["team@acme.test"]);
  });

  test("STARTTLS with the certSecretRef CA and the Secret's login; the password never in a log line", async () => {
    const password = "canary-SMTP-pass-Qw12Er";
    const mail = await startMailReceiver({ users: { notifier: password }, key, cert });
    receivers.push(mail);
    const { results, logs } = await send(
      {
        address: `smtp://mail.test:${mail.port}`,
        secretRef: { name: "smtp" },
        certSecretRef: { name: "ca" },
      },
      {
        "apps/smtp": { from: "bot@acme.test", to: "oncall@acme.test", username: "notifier", password },
        "apps/ca": { "ca.crt": cert.toString() },
      },
    );
    expect(results[0]?.outcome).toBe("sent");
    expect(mail.logins).toEqual([{ username: "notifier", password }]);
    expect(mail.messages[0]?.user).toBe("notifier");
    expect(mail.messages[0]?.raw).not.toContain(password);
    for (const form of secretForms(password)) expect(logs).not.toContain(form);
  });

  test("a password is never sent to a server that offers no TLS", async () => {
    const password = "canary-SMTP-pass-Zx98Cv";
    const mail = await startMailReceiver({ users: { notifier: password } });
    receivers.push(mail);
    const { results, logs } = await send(
      { address: `smtp://mail.test:${mail.port}`, secretRef: { name: "smtp" } },
      { "apps/smtp": { from: "bot@acme.test", to: "oncall@acme.test", username: "notifier", password } },
    );
    expect(results[0]?.outcome).toBe("failed");
    expect(results[0]?.detail).toMatch(/answered 500 to STARTTLS.*\(TLS is required to send the password\)/);
    expect(mail.logins).toEqual([]);
    expect(mail.messages).toEqual([]);
    for (const form of secretForms(password)) {
      expect(logs).not.toContain(form);
      expect(JSON.stringify(results)).not.toContain(form);
    }
  });

  test("a wrong login is refused by the server and reported without the password", async () => {
    const mail = await startMailReceiver({ users: { notifier: "right-password" }, key, cert });
    receivers.push(mail);
    const password = "canary-wrong-pass-Lk34";
    const { results } = await send(
      {
        address: `smtp://mail.test:${mail.port}`,
        secretRef: { name: "smtp" },
        certSecretRef: { name: "ca" },
      },
      {
        "apps/smtp": { from: "bot@acme.test", to: "oncall@acme.test", username: "notifier", password },
        "apps/ca": { "ca.crt": cert.toString() },
      },
    );
    expect(results[0]).toMatchObject({ outcome: "failed", attempts: 1 });
    expect(results[0]?.detail).toMatch(/refused the credentials|535/);
    expect(JSON.stringify(results)).not.toContain(password);
  });

  test("the SMTP host is judged by the outbound policy before anything connects", async () => {
    const mail = await startMailReceiver();
    receivers.push(mail);
    const { results } = await send(
      { address: `smtp://mail.test:${mail.port}`, secretRef: { name: "smtp" } },
      { "apps/smtp": { from: "bot@acme.test", to: "oncall@acme.test" } },
      { policy: createOutboundPolicy({ deny: ["mail.test"] }) },
    );
    expect(results[0]?.detail).toMatch(
      /the SMTP server: refused by the outbound policy: mail.test is denied/,
    );
    expect(mail.messages).toEqual([]);
  });

  test.each([
    [
      { address: "mailto:x@y" },
      {},
      "spec.address: must be smtp://host[:port], smtps://host[:port] or host[:port]",
    ],
    [
      { address: "smtp://mail.test:25" },
      { to: "a@b.test" },
      "the Secret's from: must be the sender's email address",
    ],
    [
      { address: "smtp://mail.test:25" },
      { from: "a@b.test" },
      "the Secret's to: must list the recipients (or set spec.channel)",
    ],
    [
      { address: "smtp://mail.test:25", proxy: "http://p:3128" },
      { from: "a@b.test", to: "c@d.test" },
      "spec.proxy: is not supported for email",
    ],
  ])("%j with %j is refused before connecting: %s", async (spec, data, message) => {
    const { results } = await send({ ...spec, secretRef: { name: "smtp" } }, { "apps/smtp": data });
    expect(results[0]?.detail).toBe(`Provider/apps/mail: ${message}`);
  });
});
