// Rendered output of kustomize builds, keyed by everything the output depends on: the content of the work
// tree, the Kustomization's build fields, the kustomize binary and the manifest limits. kustomize needs
// seconds for a thousand objects, and most reconciles (drift checks, re-runs, several replicas) build a
// commit that was built before; Argo CD's repo server caches the same way.
//
// Entries live in memory and on disk (GITOPS_BOT_BUILD_CACHE, default ~/.cache/gitops-bot/builds, private
// to the user since rendered Secrets may be in them); `GITOPS_BOT_BUILD_CACHE=off` turns caching off.
import { createHash } from "node:crypto";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";

// Sized for a schedule: a replica reconciles every Kustomization of every repository on its interval, so
// the cache holds thousands of builds (1,000 scheduled Kustomizations missed 95% of the time at 64 / 256).
// Memory is bounded by bytes (the JSON size of each entry) as well as by count.
const MEMORY_ENTRIES = 4096;
const MEMORY_BYTES = 128 * 1024 * 1024;
const DISK_ENTRIES = 4096;
const memory = new Map<string, { objects: KubernetesObject[]; bytes: number }>();
let memoryBytes = 0;
const treeDigests = new WeakMap<object, string>();

function cacheDir(): string | undefined {
  const configured = process.env.GITOPS_BOT_BUILD_CACHE;
  if (configured === "off") return undefined;
  return configured || join(homedir(), ".cache", "gitops-bot", "builds");
}

export function buildCacheEnabled(): boolean {
  return cacheDir() !== undefined;
}

/** A digest of every file under `dir` (paths, modes, contents, symlink targets), skipping `skip` entries. */
export function treeDigest(dir: string, skip: (name: string) => boolean = () => false): string {
  const hash = createHash("sha256");
  const visit = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      if (skip(name)) continue;
      const full = join(d, name);
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(full);
      if (st.isSymbolicLink()) hash.update(`L ${path} ${readlinkSync(full)}\0`);
      else if (st.isDirectory()) visit(full, path);
      else if (st.isFile()) {
        hash.update(`F ${path} ${st.mode & 0o111 ? "x" : "-"} ${st.size}\0`);
        hash.update(readFileSync(full));
      }
    }
  };
  visit(dir, "");
  return hash.digest("hex");
}

/** The tree digest of a work tree, computed once per tree (before any build writes into it). */
export function memoTreeDigest(tree: { dir: string }, skip?: (name: string) => boolean): string | undefined {
  let digest = treeDigests.get(tree);
  if (digest === undefined) {
    // "" marks a tree whose builds must not be cached.
    digest = referencesRemote(tree.dir, skip) ? "" : treeDigest(tree.dir, skip);
    treeDigests.set(tree, digest);
  }
  return digest || undefined;
}

/** The binary's path, size and mtime (looked up on PATH when given by name), so an upgrade misses the cache. */
function binaryIdentity(binary: string): string {
  const candidates = binary.includes("/")
    ? [binary]
    : (process.env.PATH ?? "")
        .split(":")
        .filter(Boolean)
        .map((dir) => join(dir, binary));
  for (const candidate of candidates) {
    try {
      const st = statSync(candidate);
      if (st.isFile()) return `${candidate}:${st.size}:${st.mtimeMs}`;
    } catch {
      // not in this directory
    }
  }
  return binary;
}

const kustomizationNames = new Set(["kustomization.yaml", "kustomization.yml", "Kustomization"]);

/**
 * Whether any kustomization file in the tree reaches outside it (a remote base or resource, `?ref=`): such a
 * build depends on more than the tree, so it is never cached.
 */
export function referencesRemote(dir: string, skip: (name: string) => boolean = () => false): boolean {
  const visit = (d: string): boolean => {
    for (const name of readdirSync(d)) {
      if (skip(name)) continue;
      const full = join(d, name);
      const st = lstatSync(full);
      if (st.isDirectory() && visit(full)) return true;
      if (
        st.isFile() &&
        kustomizationNames.has(name) &&
        /:\/\/|\?ref=|^\s*-\s*(github\.com|gitlab\.com|bitbucket\.org)\//m.test(readFileSync(full, "utf8"))
      ) {
        return true;
      }
    }
    return false;
  };
  return visit(dir);
}

export function buildCacheKey(parts: {
  binary: string;
  tree: string;
  build: unknown;
  limits: unknown;
}): string {
  return createHash("sha256")
    .update(JSON.stringify([binaryIdentity(parts.binary), parts.tree, parts.build, parts.limits]))
    .digest("hex");
}

export type BuildCacheResult = "memory" | "disk" | "miss";

let observer: ((result: BuildCacheResult) => void) | undefined;

/** One observer per process (the server's metrics): told whether each cache lookup hit memory, disk or missed. */
export function setBuildCacheObserver(fn: ((result: BuildCacheResult) => void) | undefined): void {
  observer = fn;
}

function observe(result: BuildCacheResult): void {
  try {
    observer?.(result);
  } catch {
    // An observer's failure never changes a build.
  }
}

export function readBuildCache(key: string): KubernetesObject[] | undefined {
  const dir = cacheDir();
  if (!dir) return undefined;
  const hit = memory.get(key);
  if (hit) {
    observe("memory");
    return structuredClone(hit.objects);
  }
  try {
    const text = readFileSync(join(dir, `${key}.json`), "utf8");
    const objects = JSON.parse(text) as KubernetesObject[];
    remember(key, objects, text.length);
    observe("disk");
    return structuredClone(objects);
  } catch {
    observe("miss");
    return undefined;
  }
}

export function writeBuildCache(key: string, objects: KubernetesObject[]): void {
  const dir = cacheDir();
  if (!dir) return;
  const text = JSON.stringify(objects);
  remember(key, structuredClone(objects), text.length);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const tmp = join(dir, `.${key}.${process.pid}.tmp`);
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, join(dir, `${key}.json`));
    trimDisk(dir);
  } catch {
    // A cache that cannot be written is only slower, never wrong.
  }
}

function remember(key: string, objects: KubernetesObject[], bytes: number): void {
  const old = memory.get(key);
  if (old) {
    memory.delete(key);
    memoryBytes -= old.bytes;
  }
  if (bytes > MEMORY_BYTES / 4) return; // one huge build never empties the cache for the others
  memory.set(key, { objects, bytes });
  memoryBytes += bytes;
  while (memory.size > MEMORY_ENTRIES || memoryBytes > MEMORY_BYTES) {
    const [oldest, entry] = memory.entries().next().value ?? [];
    if (oldest === undefined || entry === undefined) break;
    memory.delete(oldest);
    memoryBytes -= entry.bytes;
  }
}

/**
 * Entries written since the directory was last trimmed, by directory. Trimming reads and stats every entry, so
 * it runs on the first write of a process and then every TRIM_EVERY writes (a cold run of a hundred builds
 * spent a second there): the directory holds at most DISK_ENTRIES + TRIM_EVERY entries.
 */
const writesSinceTrim = new Map<string, number>();
const TRIM_EVERY = 32;

function trimDisk(dir: string): void {
  const written = writesSinceTrim.get(dir);
  if (written !== undefined && written + 1 < TRIM_EVERY) {
    writesSinceTrim.set(dir, written + 1);
    return;
  }
  writesSinceTrim.set(dir, 0);
  const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  if (files.length <= DISK_ENTRIES) return;
  const byAge = files.map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs })).sort((a, b) => a.t - b.t);
  for (const { f } of byAge.slice(0, files.length - DISK_ENTRIES)) rmSync(join(dir, f), { force: true });
}
