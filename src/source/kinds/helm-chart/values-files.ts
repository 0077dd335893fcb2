// A chart's values files, as source-controller packages them: the files named by a HelmChart's
// `spec.valuesFiles` (or a HelmRelease's `spec.chart.spec.valuesFiles`) are merged in order, the last winning,
// and the result *replaces* the chart's values.yaml (values.yaml is only part of it when listed). helm then
// merges valuesFrom and values over these defaults as usual.
//
// Where the paths point (Flux's builders): for a chart directory from a GitRepository, into the source's files
// (relative to its root); for a packaged chart (HelmRepository), into the chart itself. The paths and the
// files are repository (or registry) content, so: relative only, no `..` out, no symlink leading out, regular
// files only, each and all together bounded in size, YAML aliases bounded. The derived chart is a copy written
// to the cache (the source's files stay read-only), its own copy bounded too.
import { createHash } from "node:crypto";
import {
  closeSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { ManifestError, type ManifestLocation } from "../../../flux/errors.js";
import { relativePathError } from "../../../flux/names.js";
import type { ResolvedChart } from "../../../helm/release.js";
import { isInside } from "../../../util/path-inside.js";
import { cached, cachePath, sha256Hex } from "../../cache.js";
import { extractTarGz } from "../../tar-extract.js";

export interface ValuesFileRef {
  path: string;
  /** The field that names it, e.g. `spec.valuesFiles[1]`. */
  field: string;
}

export interface ValuesFilesRequest {
  files: readonly ValuesFileRef[];
  /** Flux's ignoreMissingValuesFiles: a file that is not there is left out instead of failing. */
  ignoreMissing: boolean;
  /** The object naming the files (`file`, `object`), for errors. */
  where: Omit<ManifestLocation, "field">;
}

export interface ValuesFilesLimits {
  /** Bytes of one values file. */
  maxFileBytes: number;
  /** Bytes of all values files of one chart. */
  maxTotalBytes: number;
  /** Files and bytes of the chart copied to carry the merged values (helm's own chart bound is 100 MiB). */
  maxChartFiles: number;
  maxChartBytes: number;
}

export const DEFAULT_VALUES_FILES_LIMITS: Readonly<ValuesFilesLimits> = {
  maxFileBytes: 4 * 1024 * 1024,
  maxTotalBytes: 16 * 1024 * 1024,
  maxChartFiles: 10_000,
  maxChartBytes: 100 * 1024 * 1024,
};

type Values = Record<string, unknown>;

function isMap(v: unknown): v is Values {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Helm's (and Flux's MergeMaps) merge: maps key by key, anything else replaced; maps without a prototype. */
function mergeMaps(base: Values, over: Values): Values {
  const out = Object.create(null) as Values;
  for (const key of Object.keys(base)) out[key] = base[key];
  for (const key of Object.keys(over)) {
    const current = out[key];
    const value = over[key];
    out[key] = isMap(current) && isMap(value) ? mergeMaps(current, value) : value;
  }
  return out;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (isMap(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * The chart with its values files applied: a copy whose values.yaml is the merge of the files, with the files
 * found and the merge's digest recorded (the digest is part of what decides an upgrade). Unchanged when no
 * file is named, or when the files were applied already.
 */
export async function withValuesFiles(
  chart: ResolvedChart,
  request: ValuesFilesRequest,
  cacheDir: string,
  limits: Partial<ValuesFilesLimits> = {},
): Promise<ResolvedChart> {
  if (request.files.length === 0 || chart.valuesFiles) return chart;
  const bounds = { ...DEFAULT_VALUES_FILES_LIMITS, ...limits };
  const what = `chart ${chart.name}@${chart.version}`;
  const isDirectory = lstatSync(chart.path).isDirectory();
  const chartDir = isDirectory ? chart.path : await unpackedChart(chart.path, what, cacheDir, bounds);
  // A directory chart's files are looked up in its source (Flux: relative to the source root); a packaged
  // chart's in the chart.
  const base = isDirectory ? (chart.root ?? chart.path) : chartDir;
  const { values, found } = readValuesFiles(base, request, isDirectory ? "the source" : what, bounds);
  const valuesText = stringify(values, { aliasDuplicateObjects: false });
  const digest = `sha256:${sha256Hex(canonical(values))}`;
  const tree = chartTree(chartDir, chart.root ?? chartDir, what, bounds);
  const out = await cached(
    cachePath(cacheDir, "helm-values-files", sha256Hex(`${tree.digest}\n${digest}`)),
    async (tmp) => {
      mkdirSync(tmp, { recursive: true });
      for (const entry of tree.entries) {
        const target = join(tmp, entry.relative);
        if (entry.directory) mkdirSync(target, { recursive: true });
        else copyFileSync(entry.real, target);
      }
      writeFileSync(join(tmp, "values.yaml"), valuesText);
    },
  );
  return { ...chart, path: out, root: out, valuesFiles: found, valuesFilesDigest: digest };
}

function fail(request: ValuesFilesRequest, field: string, reason: string): ManifestError {
  return new ManifestError({ ...request.where, field }, reason);
}

function readValuesFiles(
  base: string,
  request: ValuesFilesRequest,
  inWhat: string,
  bounds: ValuesFilesLimits,
): { values: Values; found: string[] } {
  const realBase = realpathSync(base);
  let values = Object.create(null) as Values;
  let total = 0;
  const found: string[] = [];
  for (const { path, field } of request.files) {
    const bad = relativePathError(path);
    if (bad) throw fail(request, field, bad);
    const full = resolve(base, path.replace(/^\.\//, "") || ".");
    if (!isInside(resolve(base), full)) throw fail(request, field, `"${path}" leaves ${inWhat}; refused`);
    let real: string;
    try {
      real = realpathSync(full);
    } catch {
      if (request.ignoreMissing) continue;
      throw fail(
        request,
        field,
        `no values file "${path}" in ${inWhat} (set ignoreMissingValuesFiles to leave missing files out)`,
      );
    }
    if (!isInside(realBase, real)) {
      throw fail(request, field, `"${path}" leads out of ${inWhat} through a symbolic link; refused`);
    }
    const info = statSync(real);
    if (!info.isFile()) throw fail(request, field, `"${path}" is not a regular file`);
    if (info.size > bounds.maxFileBytes) {
      throw fail(request, field, `"${path}" is larger than ${bounds.maxFileBytes} bytes; refused`);
    }
    const text = readBounded(real, bounds.maxFileBytes);
    if (text === undefined) {
      throw fail(request, field, `"${path}" is larger than ${bounds.maxFileBytes} bytes; refused`);
    }
    total += Buffer.byteLength(text);
    if (total > bounds.maxTotalBytes) {
      throw fail(
        request,
        field,
        `the values files together are larger than ${bounds.maxTotalBytes} bytes; refused`,
      );
    }
    let doc: unknown;
    try {
      doc = parse(text, { maxAliasCount: 100 }) ?? {};
    } catch (err) {
      throw fail(request, field, `"${path}" is not valid YAML: ${(err as Error).message}`);
    }
    if (!isMap(doc)) throw fail(request, field, `"${path}" is not a YAML mapping`);
    values = mergeMaps(values, doc);
    found.push(path);
  }
  return { values, found };
}

/** At most `max` bytes of a file; undefined when it holds more (it may have grown since it was measured). */
function readBounded(file: string, max: number): string | undefined {
  const fd = openSync(file, "r");
  try {
    const buffer = Buffer.alloc(max + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > max) return undefined;
    }
    return buffer.subarray(0, length).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** A packaged chart unpacked (bounded, members checked) into the cache; returns the chart's directory. */
async function unpackedChart(
  archive: string,
  what: string,
  cacheDir: string,
  bounds: ValuesFilesLimits,
): Promise<string> {
  const digest = createHash("sha256").update(readFileSync(archive)).digest("hex");
  const dir = await cached(cachePath(cacheDir, "helm-chart-unpacked", digest), async (tmp) => {
    await extractTarGz(archive, tmp, {
      what,
      limits: {
        maxCompressedBytes: bounds.maxChartBytes,
        maxUnpackedBytes: bounds.maxChartBytes,
        maxEntries: bounds.maxChartFiles,
      },
    });
  });
  // helm packages a chart as `<name>/…`: the one top-level directory with a Chart.yaml.
  const tops = readdirSync(dir, { withFileTypes: true }).filter(
    (e) => e.isDirectory() && lstatSync(join(dir, e.name, "Chart.yaml"), { throwIfNoEntry: false })?.isFile(),
  );
  if (tops.length !== 1) throw new Error(`${what}: the archive does not hold exactly one chart directory`);
  return join(dir, (tops[0] as { name: string }).name);
}

interface TreeEntry {
  relative: string;
  real: string;
  directory: boolean;
}

/**
 * The files of a chart directory to copy (links followed, each only if it stays inside `root`), bounded in
 * count and bytes, with a digest of paths and content (the cache key of the copy).
 */
function chartTree(
  dir: string,
  root: string,
  what: string,
  bounds: ValuesFilesLimits,
): { entries: TreeEntry[]; digest: string } {
  const realRoot = realpathSync(root);
  const hash = createHash("sha256");
  const entries: TreeEntry[] = [];
  let files = 0;
  let bytes = 0;
  const walk = (current: string, relative: string, ancestors: Set<string>) => {
    const real = realpathSync(current);
    if (ancestors.has(real)) throw new Error(`${what}: ${relative} links back to a parent (a symlink loop)`);
    const here = new Set(ancestors).add(real);
    for (const name of readdirSync(current).sort()) {
      if (name === ".git") continue;
      const full = join(current, name);
      const shown = relative ? `${relative}/${name}` : name;
      let target: string;
      try {
        target = realpathSync(full);
      } catch {
        throw new Error(`${what}: ${shown} is a symbolic link to nothing`);
      }
      if (!isInside(realRoot, target)) {
        throw new Error(`${what}: ${shown} is a symbolic link out of the chart's source; refused`);
      }
      const info = statSync(target);
      if (info.isDirectory()) {
        entries.push({ relative: shown, real: target, directory: true });
        hash.update(`d ${shown}\n`);
        walk(full, shown, here);
        continue;
      }
      if (!info.isFile()) throw new Error(`${what}: ${shown} is not a regular file`);
      files += 1;
      bytes += info.size;
      if (files > bounds.maxChartFiles)
        throw new Error(`${what}: more than ${bounds.maxChartFiles} files; refused`);
      if (bytes > bounds.maxChartBytes) {
        throw new Error(`${what}: its files are larger than ${bounds.maxChartBytes} bytes; refused`);
      }
      entries.push({ relative: shown, real: target, directory: false });
      hash.update(`f ${shown}\n`);
      hash.update(readFileSync(target));
    }
  };
  walk(dir, "", new Set());
  return { entries, digest: hash.digest("hex") };
}
