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

  // Allocates 16 MiB a step and touches it (Buffer.alloc fills), so the resident size grows, up to 768 MiB (so a
  // runTool without the bound fails this test at its timeout instead of exhausting the machine).
  const allocate =
    "const a = []; setInterval(() => { if (a.length < 192) for (let i = 0; i < 4; i++) a.push(Buffer.alloc(4 << 20, 1)); }, 20);";

  it("stops a program that uses more memory than its bound, killing its group", async () => {
    const started = Date.now();
    const err = await runTool({
      binary: process.execPath,
      args: ["-e", allocate],
      timeoutMs: 20_000,
      maxOutputBytes: 1024,
      maxMemoryBytes: 256 * 1024 ** 2,
      label: "kustomize build apps",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).reason).toBe("memory-limit");
    expect((err as Error).message).toBe("kustomize build apps used more than 256 MiB of memory; stopped");
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("counts the memory of the program's children", async () => {
    // sh stays the group leader (it waits for node), so only the child's memory can exceed the bound
    const err = await runTool({
      binary: "sh",
      args: ["-c", `"${process.execPath}" -e '${allocate}'; echo done`],
      timeoutMs: 20_000,
      maxOutputBytes: 1024,
      maxMemoryBytes: 256 * 1024 ** 2,
      label: "helm template",
    }).catch((e: unknown) => e);
    expect((err as ToolError).reason).toBe("memory-limit");
    expect((err as Error).message).toBe("helm template used more than 256 MiB of memory; stopped");
  });

  it("leaves a program within its memory bound alone", async () => {
    const { stdout } = await runTool({
      binary: process.execPath,
      args: ["-e", "const b = Buffer.alloc(32 << 20, 1); setTimeout(() => console.log(b.length), 600);"],
      timeoutMs: 10_000,
      maxOutputBytes: 1024,
      maxMemoryBytes: 512 * 1024 ** 2,
    });
    expect(stdout.trim()).toBe(String(32 << 20));
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
