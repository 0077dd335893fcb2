// Paths inside a repository checkout. Whatever a repository says, the engine never reads outside it:
// no absolute paths, no `..` past the root, no symlinks that lead out.
import { lstatSync, readdirSync, realpathSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { ManifestError, type ManifestLocation } from "../flux/errors.js";
import { isInside } from "../util/path-inside.js";

/**
 * Resolves `path` (as written in a Flux object, e.g. `./apps/dev`) against the repository root and checks that
 * it, and what its symlinks lead to, stay inside. Returns the absolute path.
 */
export function resolveInRepo(root: string, path: string, where: ManifestLocation = {}): string {
  const cleaned = path.replace(/^\.\//, "") || ".";
  if (isAbsolute(path))
    throw new ManifestError(where, `path "${path}" must be relative to the repository root`);
  const target = resolve(root, cleaned);
  if (!isInside(resolve(root), target))
    throw new ManifestError(where, `path "${path}" escapes the repository`);
  let real: string;
  try {
    real = realpathSync(target);
  } catch {
    throw new ManifestError(where, `path "${path}" does not exist in the repository`);
  }
  if (!isInside(realpathSync(root), real)) {
    throw new ManifestError(where, `path "${path}" leads outside the repository through a symlink`);
  }
  return target;
}

/** Relative form for messages: `apps/dev/deploy.yaml`. */
export function repoRelative(root: string, abs: string): string {
  return relative(root, abs).split(sep).join("/") || ".";
}

/** Throws if any symlink under `dir` points outside `root`. */
export function assertNoEscapingSymlinks(root: string, dir: string): void {
  const realRoot = realpathSync(root);
  for (const file of listFiles(dir, { withSymlinks: true })) {
    if (!lstatSync(file).isSymbolicLink()) continue;
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      throw new ManifestError({ file: repoRelative(root, file) }, "broken symlink");
    }
    if (!isInside(realRoot, real)) {
      throw new ManifestError({ file: repoRelative(root, file) }, "symlink leads outside the repository");
    }
  }
}

/** Files below `dir`, recursively, sorted, skipping `.git`. Symlinks are listed, not followed. */
export function listFiles(dir: string, opts: { withSymlinks?: boolean } = {}): string[] {
  const out: string[] = [];
  const visit = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (entry.name === ".git") continue;
      const full = join(d, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.isFile() || (opts.withSymlinks && entry.isSymbolicLink())) out.push(full);
    }
  };
  visit(dir);
  return out;
}
