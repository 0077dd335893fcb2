// `npm start` as a new user meets it: no credentials, so probot's setup flow on the port, /healthz, and a clean
// stop on SIGTERM. Runs the compiled server in its own process from an empty working directory.
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { freePort, waitFor } from "./support/processes.js";

const root = new URL("../", import.meta.url).pathname;

describe("npm start", () => {
  it("serves the setup flow and /healthz without credentials, and exits 0 on SIGTERM", {
    timeout: 120_000,
  }, async () => {
    execFileSync(
      process.execPath,
      [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.build.json")],
      {
        stdio: "inherit",
      },
    );
    const cwd = mkdtempSync(join(tmpdir(), "gitops-bot-start-"));
    copyFileSync(join(root, "app.yml"), join(cwd, "app.yml"));
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? "",
      HOME: cwd,
      PORT: String(port),
      NO_SMEE_SETUP: "true",
      LOG_LEVEL: "info",
    };
    const server = spawn(process.execPath, [join(root, "dist/server.js")], {
      cwd,
      env,
      stdio: "pipe",
    });
    let output = "";
    server.stdout.on("data", (d: Buffer) => {
      output += d;
    });
    server.stderr.on("data", (d: Buffer) => {
      output += d;
    });
    const exited = new Promise<number | null>((resolve) => server.on("exit", (code) => resolve(code)));
    try {
      await waitFor(
        `gitops-bot on :${port}`,
        async () => (await fetch(`http://localhost:${port}/healthz`).catch(() => undefined))?.ok === true,
        { timeoutMs: 30_000 },
      );
      const health = (await (await fetch(`http://localhost:${port}/healthz`)).json()) as {
        status: string;
        mode: string;
      };
      expect(health).toMatchObject({ status: "ok", mode: "setup" });
      const page = await (await fetch(`http://localhost:${port}/`, { redirect: "follow" })).text();
      expect(page).toMatch(/Register GitHub App/i);
      // The JSON log lines are pino's.
      expect(output).toMatch(/"msg":"gitops-bot started"/);
      server.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(output).toMatch(/"msg":"stopped"/);
    } finally {
      server.kill("SIGKILL");
      rmSync(cwd, { recursive: true, force: true });
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
