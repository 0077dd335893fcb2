// The compiled server in its own process, as `npm start` runs it: for tests of start-up refusals, webhook
// signatures and the process-level guards. Each test file compiles into its own directory (under
// node_modules/.cache, so the server finds its dependencies), never into dist/, which other runs may be using.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../support/processes.js";

const root = new URL("../../", import.meta.url).pathname;

export interface BuiltServer {
  /** Path of the compiled server.js. */
  entry: string;
  remove(): void;
}

/** Compiles src/ once into a private directory. Type errors elsewhere in the tree do not stop the emit. */
export function buildServer(): BuiltServer {
  const outDir = join(root, "node_modules/.cache/gitops-bot-test", randomUUID());
  const result = spawnSync(
    process.execPath,
    [
      join(root, "node_modules/typescript/bin/tsc"),
      "-p",
      join(root, "tsconfig.build.json"),
      "--outDir",
      outDir,
    ],
    { encoding: "utf8" },
  );
  const entry = join(outDir, "server.js");
  if (!existsSync(entry)) throw new Error(`tsc emitted no server.js:\n${result.stdout}\n${result.stderr}`);
  return { entry, remove: () => rmSync(outDir, { recursive: true, force: true }) };
}

export interface ServerProcess {
  port: number;
  cwd: string;
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** True once /healthz answers. */
  healthy(): Promise<boolean>;
  /** SIGKILL if still running, and remove the working directory. */
  dispose(): void;
}

export interface StartOptions {
  env: NodeJS.ProcessEnv;
  /** An ES module run before the server (node --import), e.g. to trigger faults on a signal. */
  preload?: string;
  /** Files to write into the working directory before the server starts, e.g. gitops-bot.yaml. */
  files?: Record<string, string>;
}

/** Starts the server from an empty working directory holding app.yml, on a free port. */
export async function startServer(server: BuiltServer, opts: StartOptions): Promise<ServerProcess> {
  const cwd = mkdtempSync(join(tmpdir(), "gitops-bot-server-"));
  copyFileSync(join(root, "app.yml"), join(cwd, "app.yml"));
  for (const [name, text] of Object.entries(opts.files ?? {})) writeFileSync(join(cwd, name), text);
  const port = await freePort();
  const args: string[] = [];
  if (opts.preload) {
    const file = join(cwd, "preload.mjs");
    writeFileSync(file, opts.preload);
    args.push("--import", file);
  }
  const child = spawn(process.execPath, [...args, server.entry], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: cwd, PORT: String(port), NO_SMEE_SETUP: "true", ...opts.env },
    stdio: "pipe",
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => {
    output += d;
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const healthy = async () =>
    (await fetch(`http://localhost:${port}/healthz`).catch(() => undefined))?.ok === true;
  return {
    port,
    cwd,
    child,
    output: () => output,
    exited,
    healthy,
    dispose: () => {
      child.kill("SIGKILL");
      rmSync(cwd, { recursive: true, force: true });
    },
  };
}

/** Waits until the server answers /healthz, failing with its output if it exits or takes too long. */
export async function untilHealthy(server: ServerProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) {
      throw new Error(`server exited with ${server.child.exitCode}:\n${server.output()}`);
    }
    if (await server.healthy()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server not healthy after ${timeoutMs} ms:\n${server.output()}`);
}

let appKey: string | undefined;

/** A GitHub App private key (PKCS#1 PEM), generated once per test process. */
export function testAppKey(): string {
  appKey ??= generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  }).privateKey;
  return appKey;
}
