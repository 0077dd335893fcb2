import { describe, expect, it } from "vitest";
import { runTool, ToolError } from "../../src/util/child-process.js";

describe("runTool", () => {
  it("gives the program a minimal environment with a private HOME, never the host's secrets", async () => {
    process.env.PRIVATE_KEY = "canary-private-key";
    process.env.WEBHOOK_SECRET = "canary-webhook";
    process.env.SSH_AUTH_SOCK = "/tmp/agent.sock";
    try {
      const { stdout } = await runTool({ binary: "env", args: [], timeoutMs: 5000, maxOutputBytes: 65536 });
      expect(stdout).not.toContain("canary");
      expect(stdout).not.toContain("SSH_AUTH_SOCK");
      const home = /^HOME=(.*)$/m.exec(stdout)?.[1];
      expect(home).toMatch(/gitops-bot-home-/);
      expect(stdout).toMatch(/^GIT_CONFIG_GLOBAL=\/dev\/null$/m);
    } finally {
      delete process.env.PRIVATE_KEY;
      delete process.env.WEBHOOK_SECRET;
      delete process.env.SSH_AUTH_SOCK;
    }
  });

  it("kills a program that outlives its timeout, with a clear error", async () => {
    const started = Date.now();
    const err = await runTool({
      binary: "sleep",
      args: ["30"],
      timeoutMs: 300,
      maxOutputBytes: 1024,
      label: "sleeper",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).reason).toBe("timeout");
    expect((err as Error).message).toBe("sleeper did not finish within 300 ms");
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("stops a program that prints more than its cap", async () => {
    const err = await runTool({ binary: "yes", args: [], timeoutMs: 10_000, maxOutputBytes: 100_000 }).catch(
      (e: unknown) => e,
    );
    expect((err as ToolError).reason).toBe("output-limit");
  });

  it("reports a missing program and a failing exit", async () => {
    const missing = await runTool({
      binary: "no-such-program-xyz",
      args: [],
      timeoutMs: 1000,
      maxOutputBytes: 10,
    }).catch((e: unknown) => e);
    expect((missing as ToolError).reason).toBe("not-found");
    const failed = await runTool({
      binary: "sh",
      args: ["-c", "echo bad >&2; exit 3"],
      timeoutMs: 1000,
      maxOutputBytes: 10,
    }).catch((e: unknown) => e);
    expect((failed as ToolError).reason).toBe("exit");
    expect((failed as ToolError).exitCode).toBe(3);
    expect((failed as ToolError).stderr).toBe("bad\n");
  });
});
