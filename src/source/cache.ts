// The content-addressed source cache: every artifact (a Git tree at a commit, an OCI layer, a chart archive)
// is stored once under a key derived from what it is, written to a temporary name and renamed into place, so
// concurrent runs (or replicas sharing the directory) never see a half-written entry.
import { createHash, createHmac, randomBytes } from "node:crypto";
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
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

/** The scope of entries fetched without credentials: public content, shared by every run. */
export const ANONYMOUS_SCOPE = "anonymous";

/**
 * The cache scope of entries fetched with `credentials` (the Secret data a fetch used): an entry filled with
 * credentials is only ever served to a run holding the same credentials, never to a run without them (a fork's
 * pull request naming a private repository's URL and a known commit). The scope is an HMAC under a key kept
 * in the cache directory, so a directory name is no offline oracle for a password.
 */
export function credentialScope(root: string, credentials: unknown): string {
  if (credentials === undefined || credentials === null) return ANONYMOUS_SCOPE;
  const material = JSON.stringify(credentials, (_key, value) =>
    value && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)))
      : value,
  );
  return `cred-${createHmac("sha256", scopeKey(root)).update(material).digest("hex").slice(0, 32)}`;
}

function scopeKey(root: string): Buffer {
  const file = join(root, ".credential-scope-key");
  if (!existsSync(file)) {
    mkdirSync(root, { recursive: true });
    const tmp = `${file}.tmp-${randomBytes(6).toString("hex")}`;
    writeFileSync(tmp, randomBytes(32), { mode: 0o600 });
    try {
      // A hard link appears complete or not at all, and fails if another run made the key first.
      linkSync(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  const key = readFileSync(file);
  if (key.length !== 32) throw new Error(`${file} is not a 32-byte key; remove it to make a new one`);
  return key;
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
