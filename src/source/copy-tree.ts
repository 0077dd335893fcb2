// Copying a directory of one artifact into another (GitRepository spec.include) without ever leaving either:
// the source and every destination directory are checked with realpath before anything is read or written,
// a symlink on the way is followed only when it stays inside, files replace what was there instead of writing
// through it, and copied symlinks must lead inside the destination.
import {
  constants,
  copyFileSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  symlinkSync,
  unlinkSync,
} from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { isInside } from "../util/path-inside.js";

export class CopyError extends Error {
  override name = "CopyError";
}

export interface ContainedCopy {
  /** The directory to copy, and the root it must stay in. */
  from: string;
  fromRoot: string;
  /** Where to copy it: a path relative to `toRoot` (e.g. an include's toPath). */
  toPath: string;
  toRoot: string;
  /** Names the fields in errors: `spec.include[0]`. */
  field: string;
  fromField?: string;
}

/** Copies `from` (inside `fromRoot`) to `toRoot/toPath`, refusing anything that leads out of either root. */
export function copyTreeContained(copy: ContainedCopy): void {
  const fromField = copy.fromField ?? `${copy.field}.fromPath`;
  const toField = `${copy.field}.toPath`;
  const realFromRoot = realpathSync(copy.fromRoot);
  const realToRoot = realpathSync(copy.toRoot);
  let realFrom: string;
  try {
    realFrom = realpathSync(copy.from);
  } catch (err) {
    throw new CopyError(`${fromField}: ${relative(copy.fromRoot, copy.from) || "."} does not exist`, {
      cause: err,
    });
  }
  if (!isInside(realFromRoot, realFrom))
    throw new CopyError(`${fromField}: leads outside the included repository through a symlink; refused`);
  if (isAbsolute(copy.toPath)) throw new CopyError(`${toField} "${copy.toPath}" must be a relative path`);
  const parts = copy.toPath.split(/[\\/]/).filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new CopyError(`${toField} "${copy.toPath}" must not contain ".."`);
  const destination = new Destination(realToRoot, toField, copy.toPath);
  let dir = realToRoot;
  for (const part of parts) dir = destination.directory(join(dir, part));
  copyDirectory(realFrom, dir, destination, fromField);
}

class Destination {
  constructor(
    readonly root: string,
    readonly field: string,
    readonly toPath: string,
  ) {}

  /** `path` as a real directory inside the root: made when missing, followed when it is a symlink inside. */
  directory(path: string): string {
    let stat: ReturnType<typeof lstatSync> | undefined;
    try {
      stat = lstatSync(path);
    } catch {
      stat = undefined;
    }
    if (stat === undefined) {
      mkdirSync(path);
      return path;
    }
    if (stat.isDirectory()) return path;
    const name = relative(this.root, path);
    if (!stat.isSymbolicLink())
      throw new CopyError(`${this.field} "${this.toPath}": ${name} is a file, not a directory`);
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      throw new CopyError(`${this.field} "${this.toPath}": ${name} is a broken symlink; refused`);
    }
    if (!isInside(this.root, real) || !lstatSync(real).isDirectory())
      throw new CopyError(
        `${this.field} "${this.toPath}" leads outside the artifact through the symlink ${name}; refused`,
      );
    return real;
  }

  /** Clears `path` for a new file or link: an old file or symlink is removed, never written through. */
  clear(path: string): void {
    let stat: ReturnType<typeof lstatSync> | undefined;
    try {
      stat = lstatSync(path);
    } catch {
      return;
    }
    if (stat.isDirectory())
      throw new CopyError(`${this.field} "${this.toPath}": ${relative(this.root, path)} is a directory`);
    unlinkSync(path);
  }
}

function copyDirectory(from: string, to: string, destination: Destination, fromField: string): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) {
      copyDirectory(source, destination.directory(target), destination, fromField);
    } else if (entry.isFile()) {
      destination.clear(target);
      copyFileSync(source, target, constants.COPYFILE_EXCL);
    } else if (entry.isSymbolicLink()) {
      const link = readlinkSync(source);
      const name = relative(destination.root, target);
      if (isAbsolute(link) || !isInside(destination.root, resolve(dirname(target), link)))
        throw new CopyError(
          `${fromField}: symlink ${name} -> ${link} would lead outside the artifact; refused`,
        );
      destination.clear(target);
      symlinkSync(link, target);
      let real: string | undefined;
      try {
        real = realpathSync(target);
      } catch {
        real = undefined; // dangling: inert
      }
      if (real !== undefined && !isInside(destination.root, real)) {
        unlinkSync(target);
        throw new CopyError(`${fromField}: symlink ${name} -> ${link} leads outside the artifact; refused`);
      }
    }
    // Sockets, FIFOs and devices are not content.
  }
}
