#!/usr/bin/env node
// `gitops-bot`: the engine from a terminal or CI job, with the verbs people know from flux and kubectl.
//   build <cluster-path>      print the rendered objects
//   diff <cluster-path>       server-side dry-run against the live cluster; exit 0 no changes, 1 changes, 2 error
//   reconcile <cluster-path>  apply, prune, wait, print the change set
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { defaultKustomizeOptions, type KustomizeOptions } from "../build/kustomize.js";
import { loadKubeConfig, makeObjectApi } from "../cluster/kube-client.js";
import { maskSecret } from "../cluster/ssa/mask-secrets.js";
import { MAX_TIMER_MS, parseDuration } from "../flux/duration.js";
import { renderHelmReleases } from "../helm/render.js";
import { runHasChanges, runSucceeded } from "../reconcile/result.js";
import { buildTree, defaultReconcileOptions, type ProgressEvent, reconcileTree } from "../reconcile/run.js";
import { toYaml } from "../reconcile/yaml.js";
import { checkCommand } from "./check.js";
import { createCommand } from "./create.js";
import { imagesCommand } from "./images.js";
import { type CliIO, UsageError } from "./io.js";
import { kubeconfigCommand } from "./kubeconfig.js";
import { renderRun } from "./render.js";
import { defaultScope, locate } from "./repo-root.js";

const usage = {
  main: `Usage: gitops-bot <command> [options]

Commands:
  build <cluster-path>       Render the Flux Kustomizations under a cluster path (no cluster needed)
  diff <cluster-path>        Show what reconcile would change, by server-side dry-run against the cluster
  reconcile <cluster-path>   Apply, prune and wait for health; print what changed
  create <kind> <name>       Write a Flux object (source, kustomization, helmrelease, image) as YAML
  images scan <path>         List registry tags and the tag each ImagePolicy chooses
  images update <path>       Write the chosen tags into the marked fields under update.path
  check [<repo> <path>]      Check clusters, binaries and the permissions a tree needs (like flux check --pre)
  kubeconfig                 Write a kubeconfig for a ServiceAccount (TokenRequest), for the operator file

Run 'gitops-bot <command> --help' for a command's options.
`,
  build: `Usage: gitops-bot build <cluster-path> [options]

Renders every Flux Kustomization under <cluster-path> (and those they contain) with kustomize and prints the
objects as YAML. Secret values are masked. postBuild.substituteFrom needs a cluster and is not applied here.

Options:
  --repo <dir>                Repository root (default: the enclosing git checkout)
  -o, --output <fmt>          yaml (default) or json
  --allow-remote-resources    Let kustomize fetch remote bases and resources (http(s), git); off by default
  --build-timeout <duration>  Stop a kustomize build after this long (default 2m)
  -h, --help                  Show this help
`,
  diff: `Usage: gitops-bot diff <cluster-path> [options]

Server-side dry-run of the whole tree against the live cluster: per Kustomization, what would be created,
changed (with a YAML diff) and pruned. Secret values are masked.
Exit status: 0 nothing would change, 1 something would change, 2 error.

Options:
  --repo <dir>                Repository root (default: the enclosing git checkout)
  --kubeconfig <path>         Kubeconfig (default: $KUBECONFIG or ~/.kube/config)
  --context <name>            Kubeconfig context (default: the current context)
  --scope <id>                Owner of the applied Kustomizations (default: <origin URL>:<cluster-path>)
  -o, --output <fmt>          text (default) or json
  --allow-remote-resources    Let kustomize fetch remote bases and resources (http(s), git); off by default
  --build-timeout <duration>  Stop a kustomize build after this long (default 2m)
  -h, --help                  Show this help
`,
  reconcile: `Usage: gitops-bot reconcile <cluster-path> [options]

Applies every Kustomization under <cluster-path> with server-side apply in dependency order, prunes objects
that left Git (where prune: true), waits for health (wait / healthChecks) and prints the change set.
Exit status: 0 all Ready, 2 on any failure.

Options:
  --repo <dir>                Repository root (default: the enclosing git checkout)
  --kubeconfig <path>         Kubeconfig (default: $KUBECONFIG or ~/.kube/config)
  --context <name>            Kubeconfig context (default: the current context)
  --scope <id>                Owner of the applied Kustomizations (default: <origin URL>:<cluster-path>)
  --no-wait                   Skip health checks
  -o, --output <fmt>          text (default) or json
  -q, --quiet                 No progress on stderr
  --allow-remote-resources    Let kustomize fetch remote bases and resources (http(s), git); off by default
  --build-timeout <duration>  Stop a kustomize build after this long (default 2m)
  -h, --help                  Show this help
`,
};

type Command = "build" | "diff" | "reconcile";
const isCommand = (c: string): c is Command => c === "build" || c === "diff" || c === "reconcile";

function parseCommandArgs(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      repo: { type: "string" },
      scope: { type: "string" },
      kubeconfig: { type: "string" },
      context: { type: "string" },
      output: { type: "string", short: "o" },
      "no-wait": { type: "boolean" },
      quiet: { type: "boolean", short: "q" },
      "allow-remote-resources": { type: "boolean" },
      "build-timeout": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

export type { CliIO } from "./io.js";

export async function main(
  argv: string[],
  io: CliIO = { out: process.stdout, err: process.stderr },
): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "-h" || command === "--help" || command === "help") {
    io.out.write(usage.main);
    return command ? 0 : 2;
  }
  if (command === "images") return imagesCommand(rest, io);
  if (command === "create") return createCommand(rest, io);
  if (command === "check") return checkCommand(rest, io);
  if (command === "kubeconfig") return kubeconfigCommand(rest, io);
  if (!isCommand(command)) {
    io.err.write(`gitops-bot: unknown command "${command}"\n\n${usage.main}`);
    return 2;
  }
  let parsed: ReturnType<typeof parseCommandArgs>;
  try {
    parsed = parseCommandArgs(rest);
  } catch (err) {
    io.err.write(`gitops-bot ${command}: ${(err as Error).message}\n\n${usage[command]}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out.write(usage[command]);
    return 0;
  }
  try {
    if (positionals.length !== 1) throw new UsageError("expects exactly one <cluster-path>");
    const output = values.output ?? (command === "build" ? "yaml" : "text");
    const allowed = command === "build" ? ["yaml", "json"] : ["text", "json"];
    if (!allowed.includes(output)) throw new UsageError(`--output must be one of ${allowed.join(", ")}`);
    const { repoDir, clusterPath } = locate(positionals[0] as string, values.repo);
    const options = {
      ...defaultReconcileOptions(repoDir, clusterPath),
      scope: values.scope ?? defaultScope(repoDir, clusterPath),
      kustomize: kustomizeOptions(values["allow-remote-resources"], values["build-timeout"]),
    };

    if (command === "build") {
      const plan = await buildTree(options);
      const objects = plan.kustomizations.flatMap((p) => {
        if (p.buildError) throw new Error(p.buildError);
        return p.objects.map((o) => maskSecret(o));
      });
      for (const note of plan.notes) io.err.write(`note: ${note}\n`);
      io.out.write(
        output === "json"
          ? `${JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }, null, 2)}\n`
          : objects.map((o) => `---\n${toYaml(o)}`).join(""),
      );
      return 0;
    }

    const kc = loadKubeConfig({ kubeconfig: values.kubeconfig, context: values.context });
    const api = makeObjectApi(kc);
    const dryRun = command === "diff";
    const progress =
      !values.quiet && output === "text" ? (e: ProgressEvent) => io.err.write(progressLine(e)) : undefined;
    const run = await reconcileTree(api, {
      ...options,
      dryRun,
      withDiff: dryRun,
      skipHealth: Boolean(values["no-wait"]),
      onProgress: progress,
      kubeConfig: kc,
    });
    io.out.write(
      output === "json"
        ? `${JSON.stringify(run, null, 2)}\n`
        : renderRun(run, { showDiff: dryRun }) + renderHelmReleases(run, { showDiff: dryRun }),
    );
    if (!runSucceeded(run)) return 2;
    return dryRun && runHasChanges(run) ? 1 : 0;
  } catch (err) {
    io.err.write(`gitops-bot ${command}: ${(err as Error).message}\n`);
    if (err instanceof UsageError) io.err.write(`\n${usage[command]}`);
    return 2;
  }
}

/** The kustomize bounds from the command line: remote resources only when asked for, a build timeout. */
function kustomizeOptions(allowRemote: boolean | undefined, timeout: string | undefined): KustomizeOptions {
  const defaults = defaultKustomizeOptions();
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

function progressLine(e: ProgressEvent): string {
  switch (e.type) {
    case "planned":
      return `◎ ${e.kustomizations} Kustomization(s) planned\n`;
    case "started":
      return `◎ ${e.kustomization}: reconciling\n`;
    case "applied":
      return `◎ ${e.kustomization}: ${e.summary}\n`;
    case "waiting":
      return `◎ ${e.kustomization}: waiting for ${e.objects} object(s) to become healthy\n`;
    case "finished":
      return `${e.status === "Ready" ? "✔" : "✗"} ${e.kustomization}: ${e.status}\n`;
  }
}

// Run only when executed, not when imported by tests.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
