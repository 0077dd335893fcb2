// Assembles one ExternalArtifact's directory from its generator's sources, copy operation by copy operation.
// Everything in the spec and in the sources' files is hostile: patterns were checked by the parser (relative,
// no `.`/`..` segment), every path read is checked to stay inside its source's root after symlinks, a symlink
// leading out is an error naming the copy and the file, files are written only as new regular files into a
// fresh directory (never through a link), and the number of files and bytes is bounded.
import { copyFileSync, lstatSync, mkdirSync, readdirSync, realpathSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ExternalArtifactSource } from "../../../flux/artifact-generator.js";
import { isInside } from "../../../util/path-inside.js";
import { excluded, globBase, globRegExp, hasGlob } from "./glob.js";

export interface AssembleLimits {
  maxFiles: number;
  maxBytes: number;
}

export const DEFAULT_ASSEMBLE_LIMITS: AssembleLimits = { maxFiles: 20_000, maxBytes: 512 * 1024 * 1024 };

export interface AliasRoot {
  dir: string;
  revision: string;
}

interface Counter {
  files: number;
  bytes: number;
}

export function assembleArtifact(
  artifact: ExternalArtifactSource,
  roots: ReadonlyMap<string, AliasRoot>,
  out: string,
  limits: AssembleLimits = DEFAULT_ASSEMBLE_LIMITS,
): void {
  mkdirSync(out, { recursive: true });
  const counter: Counter = { files: 0, bytes: 0 };
  const index = artifact.generator.spec.artifacts.findIndex((a) => a.name === artifact.name);
  for (const [j, copy] of artifact.spec.copy.entries()) {
    const field = `spec.artifacts[${index}].copy[${j}]`;
    const [, alias = "", pattern = ""] = /^@([^/]+)\/(.*)$/.exec(copy.from) ?? [];
    const root = roots.get(alias);
    if (!root) throw new Error(`${field}.from: @${alias} is not one of the sources' aliases`);
    const to = copy.to.slice("@artifact/".length);
    const copied = copyOne({
      root: root.dir,
      pattern,
      to,
      exclude: copy.exclude ?? [],
      out,
      field,
      counter,
      limits,
    });
    if (copied === 0 && !copy.optional)
      throw new Error(
        `${field}.from: ${JSON.stringify(copy.from)} matches no file (set optional: true to allow)`,
      );
  }
}

function copyOne(op: {
  root: string;
  pattern: string;
  to: string;
  exclude: string[];
  out: string;
  field: string;
  counter: Counter;
  limits: AssembleLimits;
}): number {
  const realRoot = realpathSync(op.root);
  const { base, rest } = globBase(op.pattern);
  const baseDir = join(realRoot, base);
  const baseReal = contained(realRoot, baseDir, `${op.field}.from`, base || ".");
  if (baseReal === undefined) return 0;
  const excludes = op.exclude.map((p) => globRegExp(p));
  const byPath = excludes.filter((_, i) => op.exclude[i]?.includes("/"));
  const byName = excludes.filter((_, i) => !op.exclude[i]?.includes("/"));
  const intoDir = op.to === "" || op.to.endsWith("/");
  const stat = statSync(baseReal);
  if (!hasGlob(op.pattern) && stat.isFile()) {
    // A single file: to a directory keeps its name, else `to` is the file's new name.
    const name = base.slice(base.lastIndexOf("/") + 1);
    if (excluded(name, byPath, byName)) return 0;
    write(baseReal, intoDir ? `${op.to}${name}` : op.to, op);
    return 1;
  }
  if (!stat.isDirectory()) return 0;
  // A directory without a glob is copied as that directory (`@repo/apps` to `@artifact/` gives `apps/…`).
  const prefix = hasGlob(op.pattern) ? "" : `${base.slice(base.lastIndexOf("/") + 1)}/`;
  const matcher = rest ? globRegExp(rest) : undefined;
  const destBase = intoDir ? op.to : `${op.to}/`;
  let copied = 0;
  for (const rel of walk(realRoot, baseReal, `${op.field}.from`, base)) {
    if (matcher && !matcher.test(rel)) continue;
    if (excluded(rel, byPath, byName)) continue;
    write(join(baseReal, rel), `${destBase}${prefix}${rel}`, op);
    copied++;
  }
  return copied;
}

/** The realpath of `path`, which must stay inside `realRoot`; undefined when it does not exist. */
function contained(realRoot: string, path: string, field: string, shown: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    try {
      lstatSync(path);
    } catch {
      return undefined;
    }
    throw new Error(`${field}: ${JSON.stringify(shown)} is a broken symlink`);
  }
  if (!isInside(realRoot, real))
    throw new Error(`${field}: ${JSON.stringify(shown)} leads outside its source through a symlink; refused`);
  return real;
}

/** Files below `dir` as `/`-separated paths relative to it; symlinks are followed only to files inside the root. */
function walk(realRoot: string, dir: string, field: string, shownBase: string): string[] {
  const out: string[] = [];
  const visit = (abs: string, rel: string) => {
    for (const entry of readdirSync(abs, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (entry.name === ".git") continue;
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      const child = join(abs, entry.name);
      if (entry.isDirectory()) visit(child, childRel);
      else if (entry.isFile()) out.push(childRel);
      else if (entry.isSymbolicLink()) {
        const shown = shownBase ? `${shownBase}/${childRel}` : childRel;
        const real = contained(realRoot, child, field, shown);
        // A link to a directory is not followed (no loops, no second copy); a link to a file inside is copied.
        if (real !== undefined && statSync(real).isFile()) out.push(childRel);
      }
    }
  };
  visit(dir, "");
  return out;
}

function write(
  from: string,
  rel: string,
  op: { out: string; field: string; counter: Counter; limits: AssembleLimits },
): void {
  const dest = join(op.out, rel);
  if (!isInside(op.out, dest) || dest === op.out)
    throw new Error(`${op.field}.to: ${JSON.stringify(rel)} leads outside the artifact; refused`);
  const size = statSync(from).size;
  op.counter.files++;
  op.counter.bytes += size;
  if (op.counter.files > op.limits.maxFiles)
    throw new Error(`${op.field}: the artifact has more than ${op.limits.maxFiles} files; stopped`);
  if (op.counter.bytes > op.limits.maxBytes)
    throw new Error(`${op.field}: the artifact is larger than ${op.limits.maxBytes} bytes; stopped`);
  mkdirSync(dirname(dest), { recursive: true });
  const existing = lstatSync(dest, { throwIfNoEntry: false });
  if (existing?.isDirectory())
    throw new Error(
      `${op.field}.to: ${JSON.stringify(rel)} is a directory in the artifact; cannot write a file there`,
    );
  // Later copies overwrite earlier ones (Flux's Overwrite); the old file is removed, never written through.
  if (existing) rmSync(dest, { force: true });
  copyFileSync(from, dest);
}
