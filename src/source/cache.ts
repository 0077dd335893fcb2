// The content-addressed source cache: every artifact (a Git tree at a commit, an OCI layer, a chart archive)
// is stored once under a key derived from what it is, written to a temporary name and renamed into place, so
// concurrent runs (or replicas sharing the directory) never see a half-written entry.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export function defaultCacheDir(): string {
  return process.env.GITOPS_BOT_CACHE_DIR || join(homedir(), ".cache", "gitops-bot", "sources");
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The path of a cache entry: `<root>/<kind>/<key>`; the key is hashed when it is not already a safe name. */
export function cachePath(root: string, kind: string, key: string): string {
  const safe = /^[a-zA-Z0-9._-]{1,120}$/.test(key) ? key : sha256Hex(key);
  return join(root, kind, safe);
}

/**
 * Returns the entry at `path`, creating it with `create(tmp)` first when it is missing. `create` writes to
 * `tmp` (a file or directory path that does not exist yet); on failure nothing is left behind.
 */
export async function cached(path: string, create: (tmp: string) => Promise<void>): Promise<string> {
  if (existsSync(path)) return path;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    await create(tmp);
    try {
      renameSync(tmp, path);
    } catch (err) {
      // Another run stored the same content first: theirs is as good as ours.
      if (!existsSync(path)) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return path;
}
