// The CLI loads each command's code when it runs: `version`, `--help` and `create` never load the engine or the
// Kubernetes client, and `build` never loads client-node's index (1,900 generated modules: most of a CLI's start
// on a small machine) or Helm. Follows static imports that survive compilation (type-only ones are erased); a
// dynamic import() is a command loading its code on purpose.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");

/**
 * Static import and re-export specifiers of one module that stay in the emitted JavaScript: `import type`, and
 * imports whose every name is marked `type` (biome's useImportType keeps them marked), are erased by TypeScript.
 */
function staticImports(file: string): string[] {
  const source = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of source.matchAll(/^(import|export)\s+([^;]*?)\s*from\s+"([^"]+)";/gms)) {
    const clause = (m[2] as string).trim();
    if (clause.startsWith("type ")) continue;
    const named = /^\{([^}]*)\}$/.exec(clause);
    const names = named
      ? (named[1] as string)
          .split(",")
          .map((n) => n.trim())
          .filter(Boolean)
      : [];
    if (named && names.length > 0 && names.every((n) => n.startsWith("type "))) continue;
    out.push(m[3] as string);
  }
  for (const m of source.matchAll(/^import\s+"([^"]+)";/gm)) out.push(m[1] as string);
  return out;
}

/** Every module reachable from `entry` by static imports: source files (repository paths) and packages. */
function closure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [join(root, entry)];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    const shown = relative(root, file);
    if (files.has(shown)) continue;
    files.add(shown);
    for (const specifier of staticImports(file)) {
      if (specifier.startsWith("node:")) continue;
      if (!specifier.startsWith(".")) {
        packages.add(specifier);
        continue;
      }
      const target = resolve(dirname(file), specifier.replace(/\.js$/, ".ts"));
      if (existsSync(target)) queue.push(target);
    }
  }
  return { files, packages };
}

const clientIndex = (packages: Set<string>) => [...packages].filter((p) => p === "@kubernetes/client-node");

describe("the CLI loads what a command needs when it runs", () => {
  it("the entry point (version, help, usage errors) loads no command", () => {
    const { files, packages } = closure("src/cli/main.ts");
    // A handful of small CLI modules, nothing of the engine.
    expect([...files].filter((f) => !f.startsWith("src/cli/"))).toEqual([]);
    expect(files.size).toBeLessThan(10);
    expect(files.has("src/reconcile/run.ts")).toBe(false);
    expect(clientIndex(packages)).toEqual([]);
  });

  it("tree commands parse their command line without the engine (help and usage errors answer at once)", () => {
    const { files, packages } = closure("src/cli/tree-commands.ts");
    expect(files.has("src/reconcile/run.ts")).toBe(false);
    expect(files.has("src/build/kustomize.ts")).toBe(false);
    expect(clientIndex(packages)).toEqual([]);
  });

  it("build renders without the Kubernetes client's index, the apply engine or Helm", () => {
    const { files, packages } = closure("src/cli/build-command.ts");
    expect(files.has("src/reconcile/plan.ts")).toBe(true);
    expect(clientIndex(packages)).toEqual([]);
    expect([...files].filter((f) => f.startsWith("src/helm/"))).toEqual([]);
    expect(files.has("src/cluster/ssa/apply.ts")).toBe(false);
    expect(files.has("src/cluster/kube-client.ts")).toBe(false);
  });

  it("diff and reconcile do load the client (the check above is not vacuous)", () => {
    const { files, packages } = closure("src/cli/cluster-command.ts");
    expect(clientIndex(packages)).toEqual(["@kubernetes/client-node"]);
    expect(files.has("src/reconcile/run.ts")).toBe(true);
  });
});
