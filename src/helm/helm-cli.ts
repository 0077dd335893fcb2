// The real `helm` binary (v4), run through runTool: a minimal environment (only the HELM_* homes of the run and,
// for a session that may reach the cluster, a private kubeconfig written for the run, mode 0600), a private
// HOME, a timeout and an output cap on every command. Values go in on stdin, so they never touch the disk.
//
// Two kinds of session: a *render* session has no kubeconfig at all (dry-runs: `helm template`, where a chart's
// `lookup` finds nothing because there is no cluster to ask), a *cluster* session can install and upgrade.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { runTool, ToolError } from "../util/child-process.js";
import { scrubSecrets } from "../util/secret-scrub.js";

export function helmBinary(): string {
  return process.env.GITOPS_BOT_HELM || "helm";
}

export class HelmError extends Error {
  override name = "HelmError";
  constructor(
    message: string,
    /** helm's standard error, scrubbed of the secrets the command was given. */
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface HelmLimits {
  /** Bound for commands that render or read (template, show): default 2 minutes. */
  renderTimeoutMs: number;
  /**
   * The longest `--timeout` an install, upgrade, rollback, uninstall or test may ask for, whatever the
   * HelmRelease says; the process itself is killed a while after (helm waits once per hook phase).
   */
  maxReleaseTimeoutMs: number;
  /** What one helm command may print on stdout. */
  maxOutputBytes: number;
}

export function defaultHelmLimits(): HelmLimits {
  return { renderTimeoutMs: 120_000, maxReleaseTimeoutMs: 30 * 60_000, maxOutputBytes: 64 * 1024 * 1024 };
}

export interface HelmRunOptions {
  input?: string;
  /** Kill helm after this long; default: the session's renderTimeoutMs. */
  timeoutMs?: number;
  /** Values that must not appear in the error (Secret-derived values the command was given). */
  secrets?: readonly string[];
}

export interface HelmSession {
  /** Runs helm with `args`; resolves stdout, rejects with a HelmError (helm's own message, scrubbed). */
  run(args: string[], opts?: HelmRunOptions): Promise<string>;
  /** Whether this session can reach the cluster (a kubeconfig was given). */
  readonly cluster: boolean;
  /** Where post-renderer plugins for this run live (HELM_PLUGINS). */
  pluginsDir: string;
  dir: string;
  limits: HelmLimits;
  cleanup(): void;
}

/**
 * A helm session in a fresh private directory. With `kubeConfig`, helm may reach that cluster; without it,
 * helm has no kubeconfig, no in-cluster credentials (runTool passes no KUBERNETES_* variables) and an empty
 * HOME, so nothing it renders can read the cluster.
 */
export function startHelmSession(
  kubeConfig: KubeConfig | undefined,
  limits: Partial<HelmLimits> = {},
): HelmSession {
  const bounds = { ...defaultHelmLimits(), ...limits };
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-helm-"));
  chmodSync(dir, 0o700);
  const pluginsDir = join(dir, "plugins");
  for (const d of ["config", "cache", "data", "plugins"]) mkdirSync(join(dir, d), { recursive: true });
  const env: Record<string, string | undefined> = {
    HELM_CONFIG_HOME: join(dir, "config"),
    HELM_CACHE_HOME: join(dir, "cache"),
    HELM_DATA_HOME: join(dir, "data"),
    HELM_PLUGINS: pluginsDir,
    // Kustomize for post-renderers is found the same way the engine finds it.
    GITOPS_BOT_KUSTOMIZE: process.env.GITOPS_BOT_KUSTOMIZE,
  };
  if (kubeConfig) {
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, kubeConfig.exportConfig(), { mode: 0o600 });
    env.KUBECONFIG = kubeconfig;
    env.HELM_KUBECONTEXT = kubeConfig.getCurrentContext();
  }
  return {
    dir,
    pluginsDir,
    limits: bounds,
    cluster: kubeConfig !== undefined,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
    run: (args, opts = {}) => runHelm(args, env, dir, bounds, opts),
  };
}

async function runHelm(
  args: string[],
  env: Record<string, string | undefined>,
  home: string,
  limits: HelmLimits,
  opts: HelmRunOptions,
): Promise<string> {
  const secrets = opts.secrets ?? [];
  try {
    const { stdout } = await runTool({
      binary: helmBinary(),
      args,
      input: opts.input ?? "",
      env,
      home,
      timeoutMs: opts.timeoutMs ?? limits.renderTimeoutMs,
      maxOutputBytes: limits.maxOutputBytes,
      label: `helm ${args[0] ?? ""}`.trim(),
    });
    return stdout;
  } catch (err) {
    if (!(err instanceof ToolError)) throw err;
    const stderr = scrubSecrets(err.stderr.trim(), secrets);
    if (err.reason === "not-found") {
      throw new HelmError(
        `helm binary "${helmBinary()}" not found: install helm v4 or set GITOPS_BOT_HELM`,
        "",
      );
    }
    // Timeouts and output caps say so; a failed command says what helm said (its last error lines).
    const message = err.reason === "exit" && stderr ? helmMessage(stderr) : err.message;
    throw new HelmError(scrubSecrets(message, secrets), stderr);
  }
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

/** helm's `--timeout` for a release operation: what the HelmRelease asks, within the operator's bound. */
export function releaseTimeout(limits: HelmLimits, askedMs: number): { flag: string; processMs: number } {
  const ms = Math.min(Math.max(askedMs, 1000), limits.maxReleaseTimeoutMs);
  // helm applies --timeout to each wait (pre-hooks, resources, post-hooks): the process gets room for all three.
  return { flag: `${Math.ceil(ms / 1000)}s`, processMs: 3 * ms + 60_000 };
}
