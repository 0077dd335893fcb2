// Assembles one ExternalArtifact's directory from its generator's sources, copy operation by copy operation.
// Everything in the spec and in the sources' files is hostile: patterns were checked by the parser (relative,
// no `.`/`..` segment), every path read is checked to stay inside its source's root after symlinks, a symlink
// leading out is an error naming the copy and the file, files are written only as new regular files into a
// fresh directory (never through a link), and the number of files and bytes is bounded.
import {
  copyFileSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ExternalArtifactSource } from "../../../flux/artifact-generator.js";
import { isInside } from "../../../util/path-inside.js";
import { extractTarGz } from "../../tar-extract.js";
import { excluded, globBase, globRegExp, hasGlob } from "./glob.js";
import { mergeYamlFile } from "./merge.js";

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

/**
 * The tarballs of the artifact's `strategy: Extract` copies, unpacked before assembling (tar-extract.ts: no
 * absolute or `..` members, no links out, size and member count bounded by what the artifact may still hold):
 * copy index → one scratch directory per tarball, in match order. The caller removes them (`cleanup`).
 */
export interface ExtractedTarballs {
  byCopy: ReadonlyMap<number, string[]>;
  cleanup(): void;
}

const isTarball = (name: string) => /\.(tar\.gz|tgz)$/i.test(name);

export async function extractTarballs(
  artifact: ExternalArtifactSource,
  roots: ReadonlyMap<string, AliasRoot>,
  limits: AssembleLimits = DEFAULT_ASSEMBLE_LIMITS,
): Promise<ExtractedTarballs> {
  const byCopy = new Map<number, string[]>();
  const scratch: string[] = [];
  const cleanup = () => {
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  };
  const index = artifact.generator.spec.artifacts.findIndex((a) => a.name === artifact.name);
  let budget = { bytes: limits.maxBytes, files: limits.maxFiles };
  try {
    for (const [j, copy] of artifact.spec.copy.entries()) {
      if (copy.strategy !== "Extract") continue;
      const op = operation(artifact, roots, index, j, "", { files: 0, bytes: 0 }, limits);
      const dirs: string[] = [];
      for (const file of select(op, "Extract")) {
        const dir = mkdtempSync(join(tmpdir(), "gitops-bot-extract-"));
        scratch.push(dir);
        try {
          const summary = await extractTarGz(file.from, dir, {
            what: JSON.stringify(file.shown),
            limits: {
              maxCompressedBytes: budget.bytes,
              maxUnpackedBytes: budget.bytes,
              maxEntries: budget.files * 2 + 16,
            },
          });
          budget = { bytes: budget.bytes - statSync(file.from).size, files: budget.files - summary.files };
        } catch (err) {
          throw new Error(`${op.field}.from: ${(err as Error).message}`, { cause: err });
        }
        dirs.push(dir);
      }
      byCopy.set(j, dirs);
    }
  } catch (err) {
    cleanup();
    throw err;
  }
  return { byCopy, cleanup };
}

export function assembleArtifact(
  artifact: ExternalArtifactSource,
  roots: ReadonlyMap<string, AliasRoot>,
  out: string,
  limits: AssembleLimits = DEFAULT_ASSEMBLE_LIMITS,
  extracted?: ExtractedTarballs,
): void {
  mkdirSync(out, { recursive: true });
  const counter: Counter = { files: 0, bytes: 0 };
  const index = artifact.generator.spec.artifacts.findIndex((a) => a.name === artifact.name);
  for (const [j, copy] of artifact.spec.copy.entries()) {
    const op = operation(artifact, roots, index, j, out, counter, limits);
    let copied = 0;
    if (copy.strategy === "Extract") {
      const dirs = extracted?.byCopy.get(j);
      if (!dirs) throw new Error(`${op.field}.strategy: Extract needs extractTarballs first`);
      const destBase = op.to === "" || op.to.endsWith("/") ? op.to : `${op.to}/`;
      for (const dir of dirs) {
        const realDir = realpathSync(dir);
        for (const rel of walk(realDir, realDir, `${op.field}.from`, "")) {
          write(join(realDir, rel), `${destBase}${rel}`, op);
        }
        copied++;
      }
    } else {
      for (const file of select(op, copy.strategy ?? "Overwrite")) {
        if (copy.strategy === "Merge") merge(file.from, file.dest, op);
        else write(file.from, file.dest, op);
        copied++;
      }
    }
    if (copied === 0 && !copy.optional)
      throw new Error(
        `${op.field}.from: ${JSON.stringify(copy.from)} matches no file (set optional: true to allow)`,
      );
  }
}

interface CopyOperation {
  root: string;
  pattern: string;
  to: string;
  exclude: string[];
  out: string;
  field: string;
  counter: Counter;
  limits: AssembleLimits;
}

function operation(
  artifact: ExternalArtifactSource,
  roots: ReadonlyMap<string, AliasRoot>,
  index: number,
  j: number,
  out: string,
  counter: Counter,
  limits: AssembleLimits,
): CopyOperation {
  const copy = artifact.spec.copy[j];
  const field = `spec.artifacts[${index}].copy[${j}]`;
  if (!copy) throw new Error(`${field}: no such copy`);
  const [, alias = "", pattern = ""] = /^@([^/]+)\/(.*)$/.exec(copy.from) ?? [];
  const root = roots.get(alias);
  if (!root) throw new Error(`${field}.from: @${alias} is not one of the sources' aliases`);
  const to = copy.to.slice("@artifact/".length);
  return { root: root.dir, pattern, to, exclude: copy.exclude ?? [], out, field, counter, limits };
}

interface Selected {
  /** The real path of the file in its source. */
  from: string;
  /** Where it goes in the artifact. */
  dest: string;
  /** As written in the source, for errors. */
  shown: string;
}

/** The files a copy operation matches, with where each goes; Extract keeps only tarballs. */
function select(op: CopyOperation, strategy: "Overwrite" | "Merge" | "Extract"): Selected[] {
  const realRoot = realpathSync(op.root);
  const { base, rest } = globBase(op.pattern);
  const baseDir = join(realRoot, base);
  const baseReal = contained(realRoot, baseDir, `${op.field}.from`, base || ".");
  if (baseReal === undefined) return [];
  const excludes = op.exclude.map((p) => globRegExp(p));
  const byPath = excludes.filter((_, i) => op.exclude[i]?.includes("/"));
  const byName = excludes.filter((_, i) => !op.exclude[i]?.includes("/"));
  const intoDir = op.to === "" || op.to.endsWith("/");
  const stat = statSync(baseReal);
  if (!hasGlob(op.pattern) && stat.isFile()) {
    // A single file: to a directory keeps its name, else `to` is the file's new name.
    const name = base.slice(base.lastIndexOf("/") + 1);
    if (excluded(name, byPath, byName)) return [];
    if (strategy === "Extract" && !isTarball(name))
      throw new Error(
        `${op.field}.from: ${JSON.stringify(base)} is not a .tar.gz or .tgz file (strategy Extract)`,
      );
    return [{ from: baseReal, dest: intoDir ? `${op.to}${name}` : op.to, shown: base }];
  }
  if (!stat.isDirectory()) return [];
  if (strategy === "Extract" && !hasGlob(op.pattern))
    throw new Error(
      `${op.field}.from: ${JSON.stringify(base)} is a directory; strategy Extract takes tarballs`,
    );
  // A directory without a glob is copied as that directory (`@repo/apps` to `@artifact/` gives `apps/…`).
  // (`@repo/apps/`, with a trailing slash, is the same directory: Flux copies it as a subdirectory too.)
  const dirName = base.replace(/\/+$/, "");
  const prefix = hasGlob(op.pattern) ? "" : `${dirName.slice(dirName.lastIndexOf("/") + 1)}/`;
  const matcher = rest ? globRegExp(rest) : undefined;
  const destBase = intoDir ? op.to : `${op.to}/`;
  const out: Selected[] = [];
  for (const rel of walk(realRoot, baseReal, `${op.field}.from`, base)) {
    if (matcher && !matcher.test(rel)) continue;
    if (excluded(rel, byPath, byName)) continue;
    // With a glob, Extract leaves other files out (as Flux does).
    if (strategy === "Extract" && !isTarball(rel)) continue;
    out.push({
      from: realpathSync(join(baseReal, rel)),
      dest: `${destBase}${prefix}${rel}`,
      shown: base ? `${base}/${rel}` : rel,
    });
  }
  return out;
}

/** Merge: the source YAML merged into the file already at `rel` (Helm's values merge: arrays replaced). */
function merge(from: string, rel: string, op: CopyOperation): void {
  const dest = destination(rel, op);
  const existing = lstatSync(dest, { throwIfNoEntry: false });
  if (!existing) {
    write(from, rel, op);
    return;
  }
  count(statSync(from).size, op);
  if (!existing.isFile())
    throw new Error(
      `${op.field}.to: ${JSON.stringify(rel)} is not a file in the artifact; cannot merge into it`,
    );
  let merged: string;
  try {
    merged = mergeYamlFile(readFileSync(dest, "utf8"), readFileSync(from, "utf8"));
  } catch (err) {
    throw new Error(`${op.field} (strategy Merge into ${JSON.stringify(rel)}): ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (Buffer.byteLength(merged) > op.limits.maxBytes)
    throw new Error(`${op.field}: the artifact is larger than ${op.limits.maxBytes} bytes; stopped`);
  rmSync(dest, { force: true });
  writeFileSync(dest, merged, { flag: "wx" });
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

type Placement = { out: string; field: string; counter: Counter; limits: AssembleLimits };

function destination(rel: string, op: Placement): string {
  const dest = join(op.out, rel);
  if (!isInside(op.out, dest) || dest === op.out)
    throw new Error(`${op.field}.to: ${JSON.stringify(rel)} leads outside the artifact; refused`);
  return dest;
}

function count(size: number, op: Placement): void {
  op.counter.files++;
  op.counter.bytes += size;
  if (op.counter.files > op.limits.maxFiles)
    throw new Error(`${op.field}: the artifact has more than ${op.limits.maxFiles} files; stopped`);
  if (op.counter.bytes > op.limits.maxBytes)
    throw new Error(`${op.field}: the artifact is larger than ${op.limits.maxBytes} bytes; stopped`);
}

function write(from: string, rel: string, op: Placement): void {
  const dest = destination(rel, op);
  count(statSync(from).size, op);
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
