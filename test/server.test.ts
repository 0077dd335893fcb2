// `npm start` as a new user meets it: no credentials, so probot's setup flow on the port, /healthz, and a clean
// stop on SIGTERM; and the process-level guards: a rejection nobody handled is logged (scrubbed) and survived,
// an uncaught exception is logged and exits 1. Runs the compiled server in its own process from an empty
// working directory.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse } from "yaml";
import { kubeTimeoutsOf, operatorConfigSchema, shutdownGraceMs } from "../src/config/operator-config.js";
import {
  type BuiltServer,
  buildServer,
  startServer,
  testAppKey,
  untilHealthy,
} from "./security/server-process.js";

const root = new URL("../", import.meta.url).pathname;

let built: BuiltServer;
beforeAll(() => {
  built = buildServer();
}, 120_000);
afterAll(() => built?.remove());

// Faults the server cannot be asked for over HTTP, raised on a signal by a module loaded before it.
const FAULTS = `
process.on("SIGUSR2", () => {
  const err = Object.assign(new Error("canary rejection: secret " + process.env.WEBHOOK_SECRET), {
    response: { headers: { authorization: "Bearer " + process.env.WEBHOOK_SECRET }, data: { token: process.env.WEBHOOK_SECRET } },
  });
  Promise.reject(err);
});
process.on("SIGHUP", () => {
  setTimeout(() => {
    throw new Error("canary exception: secret " + Buffer.from(process.env.WEBHOOK_SECRET).toString("base64"));
  });
});
`;

const SECRET = "canary-Kq7ZxW9mB2vT5yN1";

describe("npm start", () => {
  it("serves the setup flow and /healthz without credentials, and exits 0 on SIGTERM", {
    timeout: 120_000,
  }, async () => {
    const server = await startServer(built, { env: { LOG_LEVEL: "info" } });
    try {
      await untilHealthy(server);
      const health = (await (await fetch(`http://localhost:${server.port}/healthz`)).json()) as {
        status: string;
        mode: string;
      };
      expect(health).toMatchObject({ status: "ok", mode: "setup" });
      const page = await (await fetch(`http://localhost:${server.port}/`, { redirect: "follow" })).text();
      expect(page).toMatch(/Register GitHub App/i);
      // The JSON log lines are pino's.
      expect(server.output()).toMatch(/"msg":"gitops-bot started"/);
      server.child.kill("SIGTERM");
      expect(await server.exited).toBe(0);
      expect(server.output()).toMatch(/"msg":"stopped"/);
    } finally {
      server.dispose();
    }
  });

  it("logs a rejection nobody handled, scrubbed, and keeps serving", { timeout: 120_000 }, async () => {
    const server = await startServer(built, { env: { WEBHOOK_SECRET: SECRET }, preload: FAULTS });
    try {
      await untilHealthy(server);
      server.child.kill("SIGUSR2");
      await until(() => server.output().includes("unhandled promise rejection"));
      expect(await server.healthy()).toBe(true);
      expect(server.child.exitCode).toBeNull();
      const line =
        server
          .output()
          .split("\n")
          .find((l) => l.includes("unhandled promise rejection")) ?? "";
      expect(JSON.parse(line)).toMatchObject({
        level: 50,
        err: { message: expect.stringContaining("canary rejection") },
      });
      expect(server.output()).not.toContain(SECRET);
      server.child.kill("SIGTERM");
      expect(await server.exited).toBe(0);
    } finally {
      server.dispose();
    }
  });

  it("logs an uncaught exception, scrubbed, and exits 1 for a clean restart", {
    timeout: 120_000,
  }, async () => {
    const server = await startServer(built, { env: { WEBHOOK_SECRET: SECRET }, preload: FAULTS });
    try {
      await untilHealthy(server);
      server.child.kill("SIGHUP");
      expect(await server.exited).toBe(1);
      expect(server.output()).toMatch(/"level":60.*"msg":"uncaught exception; exiting for a clean restart"/);
      expect(server.output()).toContain("canary exception");
      expect(server.output()).not.toContain(SECRET);
      expect(server.output()).not.toContain(Buffer.from(SECRET).toString("base64"));
    } finally {
      server.dispose();
    }
  });
});

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("operator settings for Kubernetes timeouts and the shutdown grace", () => {
  it("reads them as durations, with Kubernetes' defaults", () => {
    expect(kubeTimeoutsOf(operatorConfigSchema.parse({}))).toEqual({
      connectMs: 10_000,
      readMs: 30_000,
      requestMs: 30_000,
    });
    expect(shutdownGraceMs(operatorConfigSchema.parse({}))).toBe(30_000);
    const set = operatorConfigSchema.parse({
      kubernetes: { connectTimeout: "2s", readTimeout: "1m", requestTimeout: "1m30s" },
      shutdown: { gracePeriod: "10s" },
    });
    expect(kubeTimeoutsOf(set)).toEqual({ connectMs: 2_000, readMs: 60_000, requestMs: 90_000 });
    expect(shutdownGraceMs(set)).toBe(10_000);
  });

  it("refuses to start with a zero request timeout, naming the file and field", {
    timeout: 60_000,
  }, async () => {
    const server = await startServer(built, {
      env: {
        APP_ID: "1",
        PRIVATE_KEY: testAppKey(),
        WEBHOOK_SECRET: SECRET,
        GITOPS_BOT_CONFIG: "gitops-bot.yaml",
      },
      files: { "gitops-bot.yaml": "kubernetes:\n  requestTimeout: 0s\n" },
    });
    try {
      expect(await server.exited).toBe(1);
      expect(server.output()).toMatch(/gitops-bot\.yaml/);
      expect(server.output()).toMatch(/kubernetes\.requestTimeout/);
      expect(server.output()).toMatch(/must be longer than 0/);
    } finally {
      server.dispose();
    }
  });
});

describe("app.yml", () => {
  it("asks for least-privilege permissions and only the events the bot handles", () => {
    const manifest = parse(readFileSync(join(root, "app.yml"), "utf8")) as {
      default_permissions: Record<string, string>;
      default_events: string[];
    };
    expect(manifest.default_permissions).toEqual({
      contents: "write",
      pull_requests: "write",
      statuses: "write",
      checks: "write",
      issues: "write",
      deployments: "write",
      metadata: "read",
    });
    expect(manifest.default_events.sort()).toEqual(["issue_comment", "pull_request", "push"]);
  });
});

describe("/readyz", () => {
  const kubeconfig = inject("kubeconfigPath");
  const operatorFile = (clusters: string) => `clusters:\n${clusters}`;

  it("answers 200 once every operator cluster is reachable, 503 while one is not", {
    timeout: 120_000,
  }, async () => {
    const reachable = await startServer(built, {
      env: {
        APP_ID: "1",
        PRIVATE_KEY: testAppKey(),
        WEBHOOK_SECRET: SECRET,
        GITOPS_BOT_CONFIG: "gitops-bot.yaml",
        LOG_LEVEL: "info",
      },
      files: {
        "gitops-bot.yaml": operatorFile(
          `  - name: dev\n    kubeconfig: ${kubeconfig}\n    repositories: ["acme/*"]\n`,
        ),
      },
    });
    try {
      await untilHealthy(reachable);
      let ready: Response | undefined;
      for (let i = 0; i < 100; i++) {
        ready = await fetch(`http://localhost:${reachable.port}/readyz`);
        if (ready.status === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(ready?.status).toBe(200);
      expect(JSON.stringify(await ready?.json())).toContain('"dev"');
    } finally {
      reachable.dispose();
    }

    const unreachable = await startServer(built, {
      env: {
        APP_ID: "1",
        PRIVATE_KEY: testAppKey(),
        WEBHOOK_SECRET: SECRET,
        GITOPS_BOT_CONFIG: "gitops-bot.yaml",
        LOG_LEVEL: "info",
      },
      files: {
        "gitops-bot.yaml": operatorFile(
          `  - name: gone\n    kubeconfig: gone.kubeconfig\n    repositories: ["acme/*"]\n`,
        ),
        "gone.kubeconfig": [
          "apiVersion: v1",
          "kind: Config",
          "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]",
          "users: [{name: u, user: {token: t}}]",
          "contexts: [{name: x, context: {cluster: c, user: u}}]",
          "current-context: x",
          "",
        ].join("\n"),
      },
    });
    try {
      await untilHealthy(unreachable);
      let answer: Response | undefined;
      for (let i = 0; i < 50; i++) {
        answer = await fetch(`http://localhost:${unreachable.port}/readyz`);
        const body = await answer.clone().text();
        if (body.includes('"gone"')) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(answer?.status).toBe(503);
      expect(await answer?.text()).toContain('"gone"');
      expect(unreachable.output()).toMatch(/preflight: cluster not reachable/);
    } finally {
      unreachable.dispose();
    }
  });
});
