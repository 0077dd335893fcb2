// Child processes of the benchmarks, timed from spawn to exit (so process start counts, as it does for kubectl).
import { spawn } from "node:child_process";

export interface Timed {
  ms: number;
  stdout: string;
}

export function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
      if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve({ ms: performance.now() - started, stdout })
        : reject(new Error(`${cmd} ${args.slice(0, 4).join(" ")} exited ${code}: ${stderr.slice(-2000)}`)),
    );
  });
}

export function kubectl(kubeconfig: string, args: string[]): Promise<Timed> {
  return timed("kubectl", ["--kubeconfig", kubeconfig, ...args]);
}

export interface BotRun {
  ms: number;
  engineMs: number;
  plannedMs: number;
  firstStartedMs?: number;
  firstAppliedMs?: number;
  lastAppliedMs: number;
  kustomizations: number;
  ready: number;
  created: number;
  configured: number;
  unchanged: number;
  maxRssBytes: number;
  cpuMs: number;
  requests: Record<string, number>;
  requestMs: number;
}

/**
 * The bot's engine in a fresh process on `clusterPath` of `repoDir`. With BENCH_CPU_PROF=<dir> set, each run
 * writes a V8 CPU profile there (open it in Chrome DevTools or speedscope).
 */
export async function botRun(
  repoDir: string,
  clusterPath: string,
  kubeconfig: string,
  opts: { health: boolean; schedule?: boolean },
): Promise<BotRun> {
  const child = new URL("./bot-child.js", import.meta.url).pathname;
  const prof = process.env.BENCH_CPU_PROF;
  const { ms, stdout } = await timed(process.execPath, [
    ...(prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}`] : []),
    child,
    repoDir,
    clusterPath,
    kubeconfig,
    opts.health ? "health" : "no-health",
    ...(opts.schedule ? ["schedule"] : []),
  ]);
  const out = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as BotRun & { failures: string[] };
  if (out.failures.length > 0)
    throw new Error(`bot run on ${clusterPath} failed: ${out.failures.join("; ")}`);
  if (out.ready !== out.kustomizations)
    throw new Error(`bot run on ${clusterPath}: ${out.ready}/${out.kustomizations} Kustomizations Ready`);
  return { ...out, ms };
}
