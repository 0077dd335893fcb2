// The process logger never writes a secret: credential fields and Secret data at any depth, error bodies,
// messages, and the process's own secrets in any encoding.
import { describe, expect, test } from "vitest";
import { createLogger } from "../../src/observability/logger.js";
import { redactForLog } from "../../src/observability/redact.js";

const CANARY = "canary-Zq81xV0pL3";
const b64 = (s: string) => Buffer.from(s).toString("base64");

function bufferLogger(secrets: string[] = []) {
  const lines: string[] = [];
  const log = createLogger({
    level: "debug",
    destination: { write: (s: string) => void lines.push(s) },
    secrets,
  });
  return { log, lines, text: () => lines.join("") };
}

function nest(depth: number, leaf: Record<string, unknown>): Record<string, unknown> {
  let obj = leaf;
  for (let i = 0; i < depth; i++) obj = { [`level${i}`]: obj };
  return obj;
}

describe("createLogger", () => {
  test.each([
    "token",
    "password",
    "privateKey",
    "private_key",
    "secret",
    "webhookSecret",
    "clientSecret",
    "authorization",
    "Authorization",
    "cookie",
    "set-cookie",
    "X-Api-Key",
    "accessToken",
    "stringData",
  ])("redacts %s at depth 1, 4 and 9", (key) => {
    const { log, text, lines } = bufferLogger();
    for (const depth of [0, 3, 8]) log.info(nest(depth, { [key]: CANARY, visible: "kept" }), "msg");
    expect(text()).not.toContain(CANARY);
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).toContain("[redacted]");
      expect(line).toContain("kept");
      JSON.parse(line);
    }
  });

  test("redacts a Secret's data wherever it is, and keeps a ConfigMap's", () => {
    const { log, text } = bufferLogger();
    const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, data: { k: b64(CANARY) } };
    const configMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c" },
      data: { k: "visible-value" },
    };
    log.info({
      run: { objects: [configMap, secret], list: { items: [{ type: "Opaque", data: { k: b64(CANARY) } }] } },
    });
    expect(text()).not.toContain(b64(CANARY));
    expect(text()).toContain("visible-value");
  });

  test("scrubs errors: message, stack, API response bodies (objects and JSON strings), headers and causes", () => {
    const { log, text } = bufferLogger();
    const apiError = Object.assign(new Error(`HTTP-Code: 500 Body: {"token":"${CANARY}"}`), {
      status: 500,
      body: JSON.stringify({ kind: "Secret", data: { k: b64(CANARY) }, nested: { password: CANARY } }),
      response: { headers: { authorization: `Bearer ${CANARY}` }, data: { message: "boom", token: CANARY } },
      request: { headers: { Authorization: "token ghs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" } },
    });
    const wrapped = new Error("reconcile failed", { cause: apiError });
    log.error({ err: wrapped }, "job failed");
    log.error(apiError);
    const out = text();
    expect(out).not.toContain(CANARY);
    expect(out).not.toContain(b64(CANARY));
    expect(out).not.toContain("ghs_AAAA");
    expect(out).toContain("reconcile failed");
    expect(out).toContain('"status":500');
  });

  test("scrubs the process's own secrets, in any encoding, from messages and bindings", () => {
    const key =
      "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAcanarykeyline1\nAnotherCanaryLine2xyz\n-----END RSA PRIVATE KEY-----\n";
    const webhookSecret = "wh-secret-7f3a9c1e5b";
    const { log, text } = bufferLogger([webhookSecret, key]);
    log
      .child({ sig: b64(webhookSecret) })
      .info(`secret is ${webhookSecret} and ${JSON.stringify(webhookSecret)}`);
    log.warn({ note: `key line AnotherCanaryLine2xyz` }, "key %s", key);
    log.info({
      url: `https://user:${webhookSecret}@example.com/x`,
      gh: "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    });
    const out = text();
    for (const leak of [
      webhookSecret,
      b64(webhookSecret),
      "canarykeyline1",
      "AnotherCanaryLine2xyz",
      "ghp_abcdef",
    ]) {
      expect(out).not.toContain(leak);
    }
    for (const line of out.trim().split("\n")) JSON.parse(line);
  });

  test("stays bounded on cyclic, deep and huge objects", () => {
    const { log, lines } = bufferLogger();
    const cyclic: Record<string, unknown> = { name: "a" };
    cyclic.self = cyclic;
    const huge = { items: Array.from({ length: 100_000 }, (_, i) => ({ i, token: CANARY })) };
    const started = Date.now();
    log.info({ cyclic, deep: nest(1000, { token: CANARY }), huge, long: "x".repeat(1_000_000) });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(lines[0]).toContain("[circular]");
    expect(lines[0]).toContain("[too deep]");
    expect(lines[0]?.length).toBeLessThan(200_000);
    expect(lines[0]).not.toContain(CANARY);
  });
});

describe("redactForLog", () => {
  test("keeps ordinary values as they are", () => {
    expect(redactForLog({ repo: "o/r", n: 1, ok: true, list: [1, "a"], when: new Date(0) })).toEqual({
      repo: "o/r",
      n: 1,
      ok: true,
      list: [1, "a"],
      when: "1970-01-01T00:00:00.000Z",
    });
  });
});
