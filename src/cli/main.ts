#!/usr/bin/env node
// `gitops-bot`: the engine from a terminal or CI job, with the verbs people know from flux and kubectl.
//   build <cluster-path>      print the rendered objects
//   diff <cluster-path>       server-side dry-run against the live cluster; exit 0 no changes, 1 changes, 2 error
//   reconcile <cluster-path>  apply, prune, wait, print the change set
//
// Each command's module is loaded when it runs: `version`, `--help` and `create` never load the engine, the
// Kubernetes client or Helm (1.5 s of module loading on a small machine), and `build` never loads what only a
// cluster needs.
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { usageLine } from "./command.js";
import type { CliIO } from "./io.js";
import { cliVersion } from "./version.js";

const usage = `Usage: gitops-bot <command> [options]

Commands:
  build <cluster-path>       Render the Flux Kustomizations under a cluster path (no cluster needed)
  diff <cluster-path>        Show what reconcile would change, by server-side dry-run against the cluster
  reconcile <cluster-path>   Apply, prune and wait for health; print what changed
  create <kind> <name>       Write a Flux object (source, kustomization, helmrelease, image) as YAML
  images scan <path>         List registry tags and the tag each ImagePolicy chooses
  images update <path>       Write the chosen tags into the marked fields under update.path
  check [<repo> <path>]      Check clusters, binaries and the permissions a tree needs (like flux check --pre)
  kubeconfig                 Write a kubeconfig for a ServiceAccount (TokenRequest), for the operator file
  version                    Print the version (also --version)

Run 'gitops-bot <command> --help' for a command's options. Flags are written as flux writes them:
--flag value or --flag=value, booleans as --flag, --flag=true or --flag=false.
`;

type Command = (args: string[], io: CliIO) => Promise<number>;

const commands = new Map<string, () => Promise<Command>>([
  ["images", async () => (await import("./images.js")).imagesCommand],
  ["create", async () => (await import("./create.js")).createCommand],
  ["check", async () => (await import("./check.js")).checkCommand],
  ["kubeconfig", async () => (await import("./kubeconfig.js")).kubeconfigCommand],
  ...(["build", "diff", "reconcile"] as const).map((name): [string, () => Promise<Command>] => [
    name,
    async () => {
      const { treeCommand } = await import("./tree-commands.js");
      return (args, io) => treeCommand(name, args, io);
    },
  ]),
]);

export type { CliIO } from "./io.js";

export async function main(
  argv: string[],
  io: CliIO = { out: process.stdout, err: process.stderr },
): Promise<number> {
  const [command, ...rest] = argv;
  if (!command) {
    io.err.write(usage);
    return 2;
  }
  if (command === "-h" || command === "--help" || command === "help") {
    io.out.write(usage);
    return 0;
  }
  if (command === "--version" || command === "-v" || command === "version") {
    io.out.write(`gitops-bot ${cliVersion()}\n`);
    return 0;
  }
  const load = commands.get(command);
  if (load) return (await load())(rest, io);
  io.err.write(
    command.startsWith("-")
      ? usageLine("gitops-bot", `unknown flag ${command}; flags come after the command`)
      : usageLine("gitops-bot", `unknown command "${command}"`),
  );
  return 2;
}

// Run only when executed, not when imported by tests.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
