// The one way gitops-bot runs another program (kustomize, helm, git, tar, sops, …). Repository content reaches
// these programs, so each run is bounded and sees as little of the host as possible:
// - a minimal environment: PATH, a private HOME and TMPDIR, LANG — never the app's key, webhook secret,
//   tokens, cloud credentials, ssh-agent socket or git credential helpers of the host (docs/security.md);
// - a wall-clock timeout (SIGKILL, the whole process group), a cap on what it may print, and a memory bound
//   (resident memory of the program and its children, read from /proc every 200 ms on Linux).
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ToolRun {
  /** The program: a path or a name looked up on PATH. */
  binary: string;
  args: string[];
  cwd?: string;
  /** Written to the program's standard input, then closed. */
  input?: string | Buffer;
  /** Killed after this long. Every run has a bound; there is no "forever". */
  timeoutMs: number;
  /** stdout beyond this many bytes kills the program (stderr keeps only its last 64 KiB). */
  maxOutputBytes: number;
  /**
   * Resident memory (the program and its children) beyond this kills the whole group; default
   * DEFAULT_MAX_MEMORY_BYTES. Measured from /proc on Linux (elsewhere only the timeout bounds it).
   */
  maxMemoryBytes?: number;
  /** Variables the program needs, added to the minimal environment (e.g. HELM_CACHE_HOME, GIT_SSH_COMMAND). */
  env?: Record<string, string | undefined>;
  /** An existing directory to use as HOME; default: a fresh private one, removed when the program ends. */
  home?: string;
  /** What to call the program in errors ("kustomize build apps/"); default: the binary's name. */
  label?: string;
  /** Called with each stdout chunk instead of collecting it (streaming into another consumer). */
  onStdout?: (chunk: Buffer) => void;
}

export interface ToolResult {
  stdout: string;
  stderr: string;
}

export type ToolFailure = "not-found" | "timeout" | "output-limit" | "memory-limit" | "exit";

export class ToolError extends Error {
  constructor(
    message: string,
    readonly reason: ToolFailure,
    /** The program's standard error (last 64 KiB), for callers that translate it. Not scrubbed. */
    readonly stderr: string,
    readonly exitCode?: number | null,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ToolError";
  }
}

const STDERR_KEEP_BYTES = 64 * 1024;

/** The memory bound of every run unless it asks for another: 2 GiB (kustomize and helm of large trees fit). */
export const DEFAULT_MAX_MEMORY_BYTES = 2 * 1024 ** 3;
const MEMORY_POLL_MS = 200;
/** Descendants followed when measuring memory; a fork bomb is the timeout's business. */
const MAX_MEASURED_PROCESSES = 256;

function vmRssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0; // gone already, or no /proc
  }
}

/**
 * The children of a process (every thread's), from /proc; none when it is gone or the kernel lacks
 * /proc/<pid>/task/<tid>/children (then the leader alone is measured). Benchmarks walk process trees with it too.
 */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8");
      for (const child of text.split(" ")) if (/^\d+$/.test(child)) out.push(Number(child));
    }
  } catch {
    // gone, or no such file
  }
  return out;
}

/** Resident memory of `pid` and its descendants, in bytes (0 where /proc is not there). */
export function residentMemoryBytes(pid: number): number {
  let total = 0;
  const seen = new Set<number>();
  const queue = [pid];
  while (queue.length > 0 && seen.size < MAX_MEASURED_PROCESSES) {
    const next = queue.shift() as number;
    if (seen.has(next)) continue;
    seen.add(next);
    total += vmRssBytes(next);
    queue.push(...childrenOf(next));
  }
  return total;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3 && bytes % 1024 ** 3 === 0) return `${bytes / 1024 ** 3} GiB`;
  if (bytes >= 1024 ** 2) return `${Math.round(bytes / 1024 ** 2)} MiB`;
  return `${bytes} bytes`;
}

/** Variables of the host that a child may see. Anything else — tokens, keys, proxies with credentials — stays. */
const INHERITED = ["PATH", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR"];

/** The environment every child gets: the inherited few, a private HOME/TMPDIR, and git/ssh kept off the host's config. */
export function minimalEnvironment(
  home: string,
  extra: Record<string, string | undefined> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of INHERITED) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  env.PATH ??= "/usr/local/bin:/usr/bin:/bin";
  env.HOME = home;
  env.TMPDIR = home;
  env.XDG_CONFIG_HOME = join(home, ".config");
  env.XDG_CACHE_HOME = join(home, ".cache");
  env.XDG_DATA_HOME = join(home, ".local/share");
  // git: no system or global config (credential helpers, url rewrites, hooks paths), never prompt.
  env.GIT_CONFIG_NOSYSTEM = "1";
  env.GIT_CONFIG_GLOBAL = "/dev/null";
  env.GIT_TERMINAL_PROMPT = "0";
  env.GIT_ASKPASS = "/bin/false";
  env.SSH_ASKPASS = "/bin/false";
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** Runs a program with a minimal environment, a timeout and an output cap; rejects with a ToolError. */
export function runTool(run: ToolRun): Promise<ToolResult> {
  const label = run.label ?? run.binary.split("/").pop() ?? run.binary;
  const ownHome = run.home === undefined ? mkdtempSync(join(tmpdir(), "gitops-bot-home-")) : undefined;
  const home = run.home ?? (ownHome as string);
  const cleanup = () => {
    if (ownHome) rmSync(ownHome, { recursive: true, force: true });
  };
  return new Promise<ToolResult>((resolve, reject) => {
    let settled = false;
    const finish = (err: ToolError | undefined, result?: ToolResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(memoryWatch);
      cleanup();
      if (err) reject(err);
      else resolve(result as ToolResult);
    };
    const child = spawn(run.binary, run.args, {
      cwd: run.cwd,
      env: minimalEnvironment(home, run.env),
      stdio: ["pipe", "pipe", "pipe"],
      // Its own process group, so a timeout kills whatever it started too (git's helpers, helm's plugins).
      detached: true,
    });
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = Buffer.alloc(0);
    let failure: { reason: ToolFailure; message: string } | undefined;
    const timer = setTimeout(() => {
      failure = { reason: "timeout", message: `${label} did not finish within ${formatMs(run.timeoutMs)}` };
      kill();
    }, run.timeoutMs);
    const maxMemory = run.maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES;
    const memoryWatch = setInterval(() => {
      if (failure || child.pid === undefined) return;
      if (residentMemoryBytes(child.pid) > maxMemory) {
        failure = {
          reason: "memory-limit",
          message: `${label} used more than ${formatBytes(maxMemory)} of memory; stopped`,
        };
        kill();
      }
    }, MEMORY_POLL_MS);
    child.stdout.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > run.maxOutputBytes) {
        if (!failure) {
          failure = {
            reason: "output-limit",
            message: `${label} printed more than ${run.maxOutputBytes} bytes; stopped`,
          };
          kill();
        }
        return;
      }
      if (run.onStdout) run.onStdout(chunk);
      else stdout.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = Buffer.concat([stderr, chunk]);
      if (stderr.length > STDERR_KEEP_BYTES) stderr = stderr.subarray(stderr.length - STDERR_KEEP_BYTES);
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") {
        finish(
          new ToolError(`${label}: program "${run.binary}" not found`, "not-found", "", null, { cause: err }),
        );
      } else {
        finish(new ToolError(`${label}: ${err.message}`, "exit", "", null, { cause: err }));
      }
    });
    child.on("close", (code, signal) => {
      const stderrText = stderr.toString("utf8");
      if (failure) return finish(new ToolError(failure.message, failure.reason, stderrText, code));
      if (code !== 0) {
        const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        return finish(new ToolError(`${label} ${why}`, "exit", stderrText, code));
      }
      finish(undefined, { stdout: Buffer.concat(stdout).toString("utf8"), stderr: stderrText });
    });
    child.stdin.on("error", () => {
      // the program exited without reading its input; its exit status says what happened
    });
    child.stdin.end(run.input ?? "");
  });
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}
