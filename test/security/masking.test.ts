// Attack: get a secret value out through text — logs, error messages, helm's stderr, API error bodies — in an
// encoding the old exact-substring masking missed (issue #9, "Secret scrubbing only by exact substring" and
// "log redaction one level deep"). A real Secret on the real API server, the real logger, the compiled server
// in its own process; canary values must never come out, raw or encoded.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { apiStatus } from "../../src/cluster/kube-client.js";
import { maskSecretValuesInText, secretValuesOf } from "../../src/cluster/ssa/mask-secrets.js";
import { createLogger } from "../../src/observability/logger.js";
import { createNamespace, testObjectApi } from "../support/kube.js";
import { type BuiltServer, buildServer, startServer, testAppKey, untilHealthy } from "./server-process.js";

const api = testObjectApi();

// Distinct words per line, so that any surviving fragment is found.
const CANARY_LINES = ["canaryAlpha-7Qm2", "canaryBravo-Xw91", "canaryCharlie-Lp40"];
const CANARY = `${CANARY_LINES.join("\n")}\n`;

/** Every way a reader could recover a canary line from `text`: raw, base64 at any alignment, URL-decoded. */
function leaked(text: string): string[] {
  const views = [text];
  try {
    views.push(decodeURIComponent(text));
  } catch {
    // not URL-encoded
  }
  for (const run of text.replace(/\\n|\n[ +-]*/g, "").match(/[A-Za-z0-9+/_-]{8,}={0,2}/g) ?? []) {
    for (let shift = 0; shift < 4; shift++)
      views.push(Buffer.from(run.slice(shift), "base64").toString("latin1"));
  }
  const all = views.join("\n");
  return CANARY_LINES.filter((line) => all.includes(line) || all.includes(line.slice(0, 12)));
}

describe("secret values from a real Secret", () => {
  let secret: {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace: string };
    data: Record<string, string>;
  };

  beforeAll(async () => {
    const ns = await createNamespace(api, "masking");
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "canary", namespace: ns },
      stringData: { "tls.key": CANARY, token: "canaryToken-Zr88q1" },
    });
    secret = (await api.read({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "canary", namespace: ns },
    })) as typeof secret;
  });

  it("finds the values as the API server stores them", () => {
    expect(secretValuesOf([secret])).toEqual(expect.arrayContaining([CANARY, "canaryToken-Zr88q1"]));
  });

  const goQuote = (s: string) => JSON.stringify(s).replace(/\\u00([0-9a-f]{2})/g, "\\x$1");
  it.each<[string, (value: string, object: object) => string]>([
    [
      "helm's stderr with the value Go-quoted",
      (v) => `Error: template: x:3: unexpected ${goQuote(v)} in operand`,
    ],
    ["an API error body with the object as JSON", (_v, o) => `HTTP-Code: 422\nBody: ${JSON.stringify(o)}`],
    ["the object as YAML (data in base64)", (_v, o) => stringify(o)],
    [
      "a kubeconfig embedding it, base64-encoded",
      (v) => Buffer.from(`users:\n- user:\n    client-key-data: |\n${v}`).toString("base64"),
    ],
    ["a line of it in a URL", (v) => `https://example.com/?k=${encodeURIComponent(v.split("\n")[1] ?? "")}`],
    ["a JSON log line holding a JSON error", (v) => JSON.stringify({ msg: JSON.stringify({ error: v }) })],
  ])("masks it in %s", (_form, render) => {
    const text = render(CANARY, secret);
    expect(leaked(text)).not.toEqual([]);
    const masked = maskSecretValuesInText(text, [secret]);
    expect(leaked(masked)).toEqual([]);
  });

  it("the logger redacts the Secret at any depth, and a real API error logs without its credentials", async () => {
    const lines: string[] = [];
    const log = createLogger({ destination: { write: (s: string) => void lines.push(s) } });
    let apiError: unknown;
    await api
      .read({ apiVersion: "v1", kind: "Secret", metadata: { name: "absent", namespace: "default" } })
      .catch((e) => {
        apiError = e;
      });
    expect(apiStatus(apiError)).toBe(404);
    log.error(
      { err: apiError, run: { cluster: { objects: [{ applied: { before: secret } }] } } },
      "apply failed",
    );
    log.info({
      a: { b: { c: { d: { e: { f: { g: { stringData: { k: CANARY }, token: "canaryToken-Zr88q1" } } } } } } },
    });
    const out = lines.join("");
    expect(leaked(out)).toEqual([]);
    expect(out).not.toContain("canaryToken-Zr88q1");
    expect(out).toContain("apply failed");
    expect(out).toMatch(/404|not found/i);
  });
});

describe("the server process", () => {
  let built: BuiltServer;
  beforeAll(() => {
    built = buildServer();
  }, 120_000);
  afterAll(() => built?.remove());

  it("never logs its webhook secret or app key, in any encoding, whatever a failure carries", {
    timeout: 120_000,
  }, async () => {
    const secret = `whsec-${createHash("sha256").update("canary").digest("hex").slice(0, 24)}`;
    const key = testAppKey();
    const keyLine = key.split("\n")[5] ?? "";
    // A failure dragging everything along: the secret in each form, the key, a Secret object, a token.
    const preload = `
      process.on("SIGUSR2", () => {
        const s = process.env.WEBHOOK_SECRET, k = process.env.PRIVATE_KEY;
        const b64 = (t) => Buffer.from(t).toString("base64");
        const err = new Error("failed with " + s + " / " + JSON.stringify(k) + " / " + b64(s) + " / " + encodeURIComponent(s));
        err.response = { status: 500, data: JSON.stringify({ message: "echo", secret: s, key: k }) };
        err.cause = { deep: { deeper: { deepest: { manifest: { kind: "Secret", data: { k: b64(k) } }, header: "Bearer " + s } } } };
        Promise.reject(err);
      });`;
    const server = await startServer(built, {
      env: {
        NODE_ENV: "production",
        APP_ID: "123",
        PRIVATE_KEY: key,
        WEBHOOK_SECRET: secret,
      },
      // No image automation: the server would list installations on GitHub at start-up.
      files: { "gitops-bot.yaml": "images:\n  enabled: false\n" },
      preload,
    });
    try {
      await untilHealthy(server);
      server.child.kill("SIGUSR2");
      const deadline = Date.now() + 10_000;
      while (!server.output().includes("unhandled promise rejection") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const out = server.output();
      expect(out).toContain("unhandled promise rejection");
      expect(await server.healthy()).toBe(true);
      for (const form of [
        secret,
        Buffer.from(secret).toString("base64"),
        keyLine,
        Buffer.from(key).toString("base64").slice(8, 40),
      ]) {
        expect(out).not.toContain(form);
      }
    } finally {
      server.dispose();
    }
  });
});
