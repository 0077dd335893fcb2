// `gitops-bot images scan|update <path>`: image automation without GitHub. `scan` prints what each ImagePolicy
// would choose; `update` edits the marked fields under each ImageUpdateAutomation's update.path in place.
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { loadImageAutomation } from "../images/load.js";
import { credentialsFor, type DockerConfig, parseDockerConfig } from "../images/registry/auth.js";
import { RegistryClient } from "../images/registry/client.js";
import { localRepositoryFiles, type RepositoryFiles } from "../images/repository-files.js";
import { objectKey } from "../images/resources.js";
import { latestImages, type ScanResult, scanImages } from "../images/scan.js";
import { applySetters } from "../images/setters.js";
import { type ImageUpdatePlan, planImageUpdate } from "../images/update.js";
import type { FlagSpecs } from "./args.js";
import { runCommand, usageLine } from "./command.js";
import { type CliIO, UsageError } from "./io.js";
import { printable } from "./printable.js";
import { locate } from "./repo-root.js";

const usage = {
  images: `Usage: gitops-bot images <scan|update> <path> [options]

Commands:
  scan <path>     List the tags of every ImageRepository under <path> and print what each ImagePolicy chooses
  update <path>   Also write the chosen images into the fields marked {"$imagepolicy": ...} under each
                  ImageUpdateAutomation's update.path (or under <path> when there is no automation)
`,
  options: `
Options:
  --repo <dir>             Repository root (default: the enclosing git checkout)
  --docker-config <file>   Registry credentials, docker config format (default: $DOCKER_CONFIG/config.json
                           or ~/.docker/config.json when present); used for ImageRepositories with secretRef
  --page-size <n>          Tags per registry page (default 1000)
  --max-pages <n>          Give up on a repository after this many pages (default 100)
  -o, --output <fmt>       text (default) or json
  -h, --help               Show this help
Exit status: 0 every policy chose a tag, 1 some did not, 2 error.
`,
};

export async function imagesCommand(args: string[], io: CliIO): Promise<number> {
  const [verb, ...rest] = args;
  if (!verb || verb === "-h" || verb === "--help") {
    (verb ? io.out : io.err).write(usage.images + usage.options);
    return verb ? 0 : 2;
  }
  if (verb !== "scan" && verb !== "update") {
    io.err.write(usageLine("gitops-bot images", `unknown command "${verb}" (scan or update)`));
    return 2;
  }
  const frame = { name: `gitops-bot images ${verb}`, usage: usage.images + usage.options, flags };
  return runCommand(io, rest, frame, async ({ values, positionals }) => {
    if (positionals.length !== 1) throw new UsageError("expects exactly one <path>");
    const output = values.output ?? "text";
    if (output !== "text" && output !== "json") throw new UsageError("--output must be one of text, json");
    const { repoDir, clusterPath } = locate(positionals[0]!, values.repo);
    const files = localRepositoryFiles(repoDir);
    const objects = await loadImageAutomation(files, clusterPath);
    const dockerConfig = loadDockerConfig(values["docker-config"]);
    const registry = new RegistryClient({
      pageSize: positiveInteger(values["page-size"], "--page-size"),
      maxPages: positiveInteger(values["max-pages"], "--max-pages"),
    });
    const scan = await scanImages(objects, {
      registry,
      credentials: async (_repository, reference) =>
        dockerConfig ? credentialsFor(dockerConfig, reference.registry) : undefined,
    });
    const resolved = scan.policies.every((policy) => policy.tag !== undefined);

    if (verb === "scan") {
      io.out.write(
        output === "json" ? `${JSON.stringify(scanJson(scan), null, 2)}\n` : printable(renderScan(scan)),
      );
      return resolved ? 0 : 1;
    }

    const latest = latestImages(scan.policies);
    const paths = objects.automations.length
      ? [...new Set(objects.automations.filter((a) => !a.spec.suspend).map((a) => a.spec.update.path ?? ""))]
      : [clusterPath];
    const plans: ImageUpdatePlan[] = [];
    for (const path of paths) {
      const plan = await planImageUpdate(files, path, latest);
      for (const file of plan.files) await writeFile(join(repoDir, file.file), file.after);
      plans.push(plan);
    }
    const changes = plans.flatMap((plan) => plan.changes);
    if (output === "json") {
      io.out.write(`${JSON.stringify({ ...scanJson(scan), changes }, null, 2)}\n`);
    } else {
      io.out.write(printable(renderScan(scan)));
      if (changes.length) {
        io.out.write(
          printable(
            `\n${changes.map((c) => `${c.file}:${c.line}  ${c.from} → ${c.to}  (${c.policy})\n`).join("")}`,
          ),
        );
      } else if ((await markedFields(files, paths)) === 0) {
        io.out.write(`\n${noMarkedField(paths)}\n`);
      } else {
        io.out.write("\nno changes: every marked field is up to date\n");
      }
    }
    return resolved ? 0 : 1;
  });
}

const flags = {
  repo: { type: "string" },
  "docker-config": { type: "string" },
  "page-size": { type: "string" },
  "max-pages": { type: "string" },
  output: { type: "string", short: "o" },
} as const satisfies FlagSpecs;

/** How many fields under `paths` carry a setter marker, whatever their policy (all unresolved without tags). */
async function markedFields(files: RepositoryFiles, paths: string[]): Promise<number> {
  let count = 0;
  for (const path of paths) {
    for (const file of await files.listYamlFiles(path)) {
      count += applySetters(await files.read(file), file, new Map()).unresolved.length;
    }
  }
  return count;
}

function noMarkedField(paths: string[]): string {
  const where = paths
    .map((p) => (p === "" || p === "." || p === "./" ? "the repository root" : p))
    .join(", ");
  return (
    `no changes: no field under ${where} is marked for image updates. Mark one with a comment naming ` +
    `its ImagePolicy, e.g.  image: ghcr.io/org/app:1.0.0 # {"$imagepolicy": "flux-system:app"}  ` +
    `(or :tag / :name for a tag or name field; see docs/image-automation.md)`
  );
}

function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(value)) throw new UsageError(`${flag} must be a positive integer`);
  return Number(value);
}

function loadDockerConfig(explicit: string | undefined): DockerConfig | undefined {
  const path = explicit ?? join(process.env.DOCKER_CONFIG ?? join(homedir(), ".docker"), "config.json");
  if (!existsSync(path)) {
    if (explicit) throw new Error(`--docker-config ${explicit}: no such file`);
    return undefined;
  }
  return parseDockerConfig(readFileSync(path, "utf8"), path);
}

function scanJson(scan: ScanResult) {
  return {
    repositories: scan.repositories.map((r) => ({
      name: objectKey(r.repository),
      image: r.repository.spec.image,
      tags: r.tags.length,
      excluded: r.excluded,
      pages: r.pages,
      ...(r.error ? { error: r.error } : {}),
    })),
    policies: scan.policies.map((p) => ({
      name: objectKey(p.policy),
      image: p.image,
      tag: p.tag,
      candidates: p.candidates,
      ...(p.error ? { error: p.error } : {}),
    })),
  };
}

function renderScan(scan: ScanResult): string {
  if (scan.policies.length === 0 && scan.repositories.length === 0)
    return "no ImageRepository or ImagePolicy found\n";
  const rows = scan.policies.map((p) => [
    objectKey(p.policy),
    p.image ?? "—",
    p.tag ?? `✗ ${p.error ?? "no tag"}`,
  ]);
  const header = ["POLICY", "IMAGE", "LATEST"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `${cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")}\n`;
  const repositoryErrors = scan.repositories
    .filter((r) => r.error)
    .map((r) => `✗ ImageRepository ${objectKey(r.repository)}: ${r.error}\n`);
  return line(header) + rows.map(line).join("") + repositoryErrors.join("");
}
