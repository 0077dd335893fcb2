// Attacks on the webhook boundary (issue #9 row 6 and "slash commands in code blocks"):
// - a production server started without a real WEBHOOK_SECRET would accept webhooks anyone can sign: it must
//   refuse to start (and never serve the setup flow that registers an app for whoever opens the page);
// - a started production server rejects webhooks signed with the development default;
// - a `/gitops` command hidden in a code block, a code span, an HTML comment or a quote is never run.
// Start-up cases spawn the compiled server, as `npm start` runs it; commands go through probot.receive.
import { createHmac, randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { INSTALLATION, startBot } from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { receive, webhookExample } from "../support/probot.js";
import { type BuiltServer, buildServer, startServer, testAppKey, untilHealthy } from "./server-process.js";

const STRONG_SECRET = "9f2c7e1a4b8d3f6e0a5c9b2d7e4f1a8c";

let built: BuiltServer;
beforeAll(() => {
  built = buildServer();
}, 120_000);
afterAll(() => built?.remove());

function productionEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { NODE_ENV: "production", APP_ID: "123", PRIVATE_KEY: testAppKey(), LOG_LEVEL: "info", ...extra };
}

describe("NODE_ENV=production", () => {
  it.each<[string, string | undefined]>([
    ["unset", undefined],
    ["empty", ""],
    ["the development default", "development"],
    ["short", "s3cr3t-Xy9"],
    ["a repeated character", "a".repeat(40)],
    ["a placeholder made long", "developmentdevelopment1234"],
  ])(
    "refuses to start with WEBHOOK_SECRET %s, never listening",
    { timeout: 60_000 },
    async (_case, secret) => {
      const env = productionEnv(secret === undefined ? {} : { WEBHOOK_SECRET: secret });
      const server = await startServer(built, { env });
      try {
        const started = Date.now();
        const code = await server.exited;
        expect(code).not.toBe(0);
        expect(Date.now() - started).toBeLessThan(30_000);
        expect(server.output()).toMatch(/gitops-bot: WEBHOOK_SECRET is required when NODE_ENV=production/);
        if (secret && secret !== "development") expect(server.output()).not.toContain(secret);
        expect(await server.healthy()).toBe(false);
      } finally {
        server.dispose();
      }
    },
  );

  it("refuses to start without app credentials: the setup flow is never served", {
    timeout: 60_000,
  }, async () => {
    const server = await startServer(built, {
      env: { NODE_ENV: "production", WEBHOOK_SECRET: STRONG_SECRET },
    });
    try {
      expect(await server.exited).toBe(1);
      expect(server.output()).toMatch(/APP_ID and PRIVATE_KEY .* are required when NODE_ENV=production/);
      expect(server.output()).not.toMatch(/gitops-bot started/);
      expect(await server.healthy()).toBe(false);
    } finally {
      server.dispose();
    }
  });

  it("with a real secret: starts, rejects webhooks signed with the development default or unsigned, accepts its own", {
    timeout: 60_000,
  }, async () => {
    const server = await startServer(built, {
      env: productionEnv({ WEBHOOK_SECRET: STRONG_SECRET, GITOPS_BOT_CONFIG: "gitops-bot.yaml" }),
      // No image automation: the server would list installations on GitHub at start-up.
      files: { "gitops-bot.yaml": "images:\n  enabled: false\n" },
    });
    try {
      await untilHealthy(server);
      const health = (await (await fetch(`http://localhost:${server.port}/healthz`)).json()) as {
        mode: string;
      };
      expect(health.mode).toBe("running");
      const payload = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1 });
      const deliver = (signature: string | undefined) =>
        fetch(`http://localhost:${server.port}/api/github/webhooks`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-github-event": "ping",
            "x-github-delivery": randomUUID(),
            ...(signature ? { "x-hub-signature-256": signature } : {}),
          },
          body: payload,
        });
      const sign = (secret: string) => `sha256=${createHmac("sha256", secret).update(payload).digest("hex")}`;
      const forged = await deliver(sign("development"));
      expect(forged.status).toBeGreaterThanOrEqual(400);
      const unsigned = await deliver(undefined);
      expect(unsigned.status).toBeGreaterThanOrEqual(400);
      const genuine = await deliver(sign(STRONG_SECRET));
      expect(genuine.status).toBe(200);
      expect(server.output()).not.toContain(STRONG_SECRET);
    } finally {
      server.dispose();
    }
  });
});

describe("slash commands", () => {
  let github: GitHubMock | undefined;
  afterEach(() => github?.cleanup());

  it.each([
    ["a ~~~ fence", "Output of the old bot:\n~~~\n/gitops reconcile prod\n~~~"],
    ["a ```` fence holding ```", "````\n```\n/gitops reconcile\n````"],
    ["indented code", "Run this:\n\n    /gitops reconcile prod"],
    ["a code span across lines", "try ``\n/gitops reconcile\n`` later"],
    ["an HTML comment", "LGTM\n<!--\n/gitops reconcile prod\n-->"],
    ["a quote", "> /gitops reconcile prod"],
    ["a quote's lazy line", "> someone wrote:\n/gitops reconcile prod"],
    ["a fence in a list item", "- step one:\n  ```\n  /gitops reconcile\n  ```"],
  ])("a command in %s runs nothing and asks GitHub nothing", async (_case, body) => {
    github = mockGitHub();
    const bot = await startBot();
    const payload = webhookExample("issue_comment", (p) => p.action === "created" && Boolean(p.installation));
    payload.comment.body = body;
    payload.installation = INSTALLATION;
    await receive(bot.probot, "issue_comment", payload);
    expect(bot.app.queue.size).toEqual({ running: 0, waiting: 0 });
    await bot.app.queue.idle();
    github.done(); // not even the permission check
  });
});
