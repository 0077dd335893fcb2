// A chart is checked before helm reads it. helm loads an archive in memory with its own bounds and never follows
// a link in it, but it walks a chart *directory* on disk and follows symlinks: a chart in a pull request's tree
// with `files/key -> /etc/…` (or `../../..` out of the checkout) would let `.Files.Get` render the bot host's
// files into the diff. So a directory chart may only link to files inside its own root, and both forms are
// bounded in size and file count.
import { lstatSync, readdirSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { isInside } from "../util/path-inside.js";

export interface ChartLimits {
  /** Files in a chart directory (after following allowed links). */
  maxFiles: number;
  /** Bytes of a chart directory's files, or of a chart archive. */
  maxBytes: number;
}

export function defaultChartLimits(): ChartLimits {
  // helm's own loader refuses charts that unpack to more than 100 MiB.
  return { maxFiles: 10_000, maxBytes: 100 * 1024 * 1024 };
}

export class ChartFilesError extends Error {
  override name = "ChartFilesError";
}

/**
 * Checks the chart at `path` (a directory or an archive). `root` is the directory its symlinks may point into
 * (default: the chart directory itself). Throws ChartFilesError naming the offending file.
 */
export function checkChartFiles(
  path: string,
  opts: { root?: string; limits?: Partial<ChartLimits>; what?: string } = {},
): void {
  const limits = { ...defaultChartLimits(), ...opts.limits };
  const what = opts.what ?? "chart";
  const top = lstatSync(path);
  if (top.isSymbolicLink()) throw new ChartFilesError(`${what}: the chart path is a symbolic link`);
  if (top.isFile()) {
    if (top.size > limits.maxBytes) {
      throw new ChartFilesError(`${what}: the archive is larger than ${limits.maxBytes} bytes; refused`);
    }
    return;
  }
  if (!top.isDirectory()) throw new ChartFilesError(`${what}: not a file or directory`);
  const root = realpathSync(opts.root ?? path);
  const chartRoot = realpathSync(path);
  if (!isInside(root, chartRoot)) throw new ChartFilesError(`${what}: the chart lies outside its source`);
  let files = 0;
  let bytes = 0;
  const walk = (dir: string, shown: string, ancestors: Set<string>) => {
    const real = realpathSync(dir);
    if (ancestors.has(real))
      throw new ChartFilesError(`${what}: ${shown} links back to a parent (a symlink loop)`);
    const here = new Set(ancestors).add(real);
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      const display = shown ? `${shown}/${name}` : name;
      let info = lstatSync(full);
      if (info.isSymbolicLink()) {
        let target: string;
        try {
          target = realpathSync(full);
        } catch {
          throw new ChartFilesError(`${what}: ${display} is a symbolic link to nothing`);
        }
        if (!isInside(root, target)) {
          throw new ChartFilesError(
            `${what}: ${display} is a symbolic link out of the chart's source; refused`,
          );
        }
        info = statSync(full);
      }
      if (info.isDirectory()) {
        walk(full, display, here);
        continue;
      }
      if (!info.isFile()) throw new ChartFilesError(`${what}: ${display} is not a regular file`);
      files += 1;
      bytes += info.size;
      if (files > limits.maxFiles)
        throw new ChartFilesError(`${what}: more than ${limits.maxFiles} files; refused`);
      if (bytes > limits.maxBytes) {
        throw new ChartFilesError(`${what}: its files are larger than ${limits.maxBytes} bytes; refused`);
      }
    }
  };
  walk(path, "", new Set());
}
