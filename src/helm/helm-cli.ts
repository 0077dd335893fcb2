// The real `helm` binary (v4), run with an isolated environment: a private kubeconfig written for the run
// (mode 0600, removed at the end), private Helm config/cache/data homes so the user's repositories and
// plugins never change what a run does, and values passed on stdin so they never touch the disk.
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";

export function helmBinary(): string {
  return process.env.GITOPS_BOT_HELM || "helm";
}

export class HelmError extends Error {
  override name = "HelmError";
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export interface HelmSession {
  /** Runs helm with `args`; resolves stdout, rejects with helm's own message (first lines of stderr). */
  run(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** Where post-renderer plugins for this run live (HELM_PLUGINS). */
  pluginsDir: string;
  dir: string;
  cleanup(): void;
}

export function startHelmSession(kc: KubeConfig): HelmSession {
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-helm-"));
  chmodSync(dir, 0o700);
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, kc.exportConfig(), { mode: 0o600 });
  const pluginsDir = join(dir, "plugins");
  for (const d of ["config", "cache", "data", "plugins"]) mkdirSync(join(dir, d), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    KUBECONFIG: kubeconfig,
    HELM_CONFIG_HOME: join(dir, "config"),
    HELM_CACHE_HOME: join(dir, "cache"),
    HELM_DATA_HOME: join(dir, "data"),
    HELM_PLUGINS: pluginsDir,
    HELM_KUBECONTEXT: kc.getCurrentContext(),
    // Kustomize for post-renderers is found the same way the engine finds it.
    GITOPS_BOT_KUSTOMIZE: process.env.GITOPS_BOT_KUSTOMIZE,
  };
  return {
    dir,
    pluginsDir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
    run: (args, opts = {}) => runHelm(args, env, opts),
  };
}

function runHelm(
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { input?: string; timeoutMs?: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      helmBinary(),
      args,
      { env, maxBuffer: 256 * 1024 * 1024, timeout: opts.timeoutMs ?? 0, killSignal: "SIGKILL" },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT") {
          return reject(
            new HelmError(
              `helm binary "${helmBinary()}" not found: install helm v4 or set GITOPS_BOT_HELM`,
              "",
            ),
          );
        }
        const text = stderr.trim() || err.message;
        reject(new HelmError(helmMessage(text), text));
      },
    );
    child.stdin?.on("error", () => {});
    child.stdin?.end(opts.input ?? "");
  });
}

/** Helm's error lines without the "Error: " prefix and the usage noise. */
function helmMessage(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("WARNING:") && !/^level=(WARN|INFO|DEBUG)/.test(l));
  return (
    lines
      .slice(-3)
      .join("; ")
      .replace(/^Error: /, "")
      .replace(/level=ERROR msg=/g, "") || "helm failed"
  );
}
