// `build`, `diff` and `reconcile <cluster-path>`: the engine over a checkout, for a terminal or a CI job. This
// module parses and checks the command line only; the engine is loaded once a command runs (build-command.ts,
// cluster-command.ts), so `--help` and a usage error answer at once and `build` never loads the cluster client.

import type { KustomizeOptions } from "../build/kustomize.js";
import { MAX_TIMER_MS, parseDuration } from "../flux/duration.js";
import type { FlagSpecs, FlagValues } from "./args.js";
import { runCommand } from "./command.js";
import { type CliIO, UsageError } from "./io.js";
import { defaultScope, locate } from "./repo-root.js";

export type TreeCommand = "build" | "diff" | "reconcile";

export const isTreeCommand = (c: string): c is TreeCommand =>
  c === "build" || c === "diff" || c === "reconcile";

const common = `  --repo <dir>                       Repository root (default: the enclosing git checkout)
  --allow-remote-resources[=bool]    Let kustomize fetch remote bases and resources (http(s), git); off by default
  --build-timeout <duration>         Stop a kustomize build after this long (default 2m)
  -h, --help                         Show this help
`;
const cluster = `  --kubeconfig <path>                Kubeconfig (default: $KUBECONFIG or ~/.kube/config)
  --context <name>                   Kubeconfig context (default: the current context)
  --scope <id>                       Owner of the applied Kustomizations (default: <origin URL>:<cluster-path>)
`;

export const treeUsage: Record<TreeCommand, string> = {
  build: `Usage: gitops-bot build <cluster-path> [options]

Renders every Flux Kustomization under <cluster-path> (and those they contain) with kustomize and prints the
objects as YAML. Secret values are masked. postBuild.substituteFrom needs a cluster and is not applied here.

Options:
  -o, --output <fmt>                 yaml (default) or json (see docs/cli.md)
  --render-helm[=bool]               Also print what each HelmRelease renders (helm template with its inline values,
                                     no cluster access; valuesFrom is left out with a note)
${common}`,
  diff: `Usage: gitops-bot diff <cluster-path> [options]

Server-side dry-run of the whole tree against the live cluster: per Kustomization, what would be created,
changed (with a YAML diff) and pruned. Secret values are masked.
Exit status: 0 nothing would change, 1 something would change, 2 error.

Options:
${cluster}  -o, --output <fmt>                 text (default) or json (see docs/cli.md)
${common}`,
  reconcile: `Usage: gitops-bot reconcile <cluster-path> [options]

Applies every Kustomization under <cluster-path> with server-side apply in dependency order, prunes objects
that left Git (where prune: true), waits for health (wait / healthChecks) and prints the change set.
Exit status: 0 all Ready, 2 on any failure.

Options:
${cluster}  --wait[=bool]                      Wait for health checks (default true; --wait=false or --no-wait skips them)
  -o, --output <fmt>                 text (default) or json (see docs/cli.md)
  -q, --quiet                        No progress on stderr
${common}`,
};

const flags = {
  repo: { type: "string" },
  scope: { type: "string" },
  kubeconfig: { type: "string" },
  context: { type: "string" },
  output: { type: "string", short: "o" },
  wait: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  "allow-remote-resources": { type: "boolean" },
  "build-timeout": { type: "string" },
  "render-helm": { type: "boolean" },
} as const satisfies FlagSpecs;

const clusterFlags = ["kubeconfig", "context", "scope"] as const;

export type TreeFlags = FlagValues<typeof flags>;

/** What a tree command runs on, once its command line is checked. */
export interface TreeInputs {
  repoDir: string;
  clusterPath: string;
  scope: string;
  kustomize: KustomizeOptions;
  output: string;
  values: TreeFlags;
  started: number;
}

export function treeCommand(command: TreeCommand, args: string[], io: CliIO): Promise<number> {
  const name = `gitops-bot ${command}`;
  return runCommand(io, args, { name, usage: treeUsage[command], flags }, async ({ values, positionals }) => {
    if (positionals.length !== 1) throw new UsageError("expects exactly one <cluster-path>");
    if (command === "build") {
      for (const f of clusterFlags)
        if (values[f] !== undefined) throw new UsageError(`build takes no --${f}`);
    }
    if (command !== "build" && values["render-helm"] !== undefined) {
      throw new UsageError(`${command} takes no --render-helm (it renders HelmReleases against the cluster)`);
    }
    if (command !== "reconcile") {
      if (values.wait !== undefined) throw new UsageError(`${command} takes no --wait (it applies nothing)`);
    }
    const output = values.output ?? (command === "build" ? "yaml" : "text");
    const allowed = command === "build" ? ["yaml", "json"] : ["text", "json"];
    if (!allowed.includes(output)) throw new UsageError(`--output must be one of ${allowed.join(", ")}`);
    const { repoDir, clusterPath } = locate(positionals[0] as string, values.repo);
    const inputs: TreeInputs = {
      repoDir,
      clusterPath,
      scope: values.scope ?? defaultScope(repoDir, clusterPath),
      kustomize: await kustomizeOptions(values["allow-remote-resources"], values["build-timeout"]),
      output,
      values,
      started: Date.now(),
    };
    if (command === "build") return (await import("./build-command.js")).runBuild(inputs, io);
    return (await import("./cluster-command.js")).runOnCluster(command, inputs, io);
  });
}

/** The kustomize bounds from the command line: remote resources only when asked for, a build timeout. */
async function kustomizeOptions(
  allowRemote: boolean | undefined,
  timeout: string | undefined,
): Promise<KustomizeOptions> {
  const defaults = (await import("../build/kustomize.js")).defaultKustomizeOptions();
  let timeoutMs = defaults.timeoutMs;
  if (timeout !== undefined) {
    try {
      timeoutMs = parseDuration(timeout);
    } catch (err) {
      throw new UsageError(`--build-timeout: ${(err as Error).message}`);
    }
    if (timeoutMs <= 0 || timeoutMs > MAX_TIMER_MS) {
      throw new UsageError(`--build-timeout must be more than 0s and less than 24 days, not ${timeout}`);
    }
  }
  return { ...defaults, timeoutMs, allowRemoteResources: Boolean(allowRemote) };
}
