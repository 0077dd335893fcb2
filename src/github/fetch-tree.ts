// The repository tree at one commit, from GitHub's tarball endpoint with the installation token: no clone, and
// no credentials written to disk. Streamed into the engine's own extractor (source/tar-extract.ts): absolute
// names and `..` refused, nothing written through a symlink, symlinks that lead out of the tree left out, and
// the download, the unpacked size and the number of files bounded while it streams.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ArchiveError,
  type ArchiveInput,
  ArchiveLimitError,
  type ArchiveLimits,
  extractTarGz,
} from "../source/tar-extract.js";
import type { GitHubClient, RepoRef } from "./client.js";

/** A tarball larger than this is refused rather than filling the disk. */
export const MAX_TARBALL_BYTES = 256 * 1024 * 1024;
/** What a repository tree may unpack to: bytes and files. */
export const MAX_TREE_BYTES = 1024 * 1024 * 1024;
export const MAX_TREE_FILES = 100_000;

export interface FetchedTree {
  dir: string;
  cleanup: () => void;
}

export async function fetchTree(github: GitHubClient, repo: RepoRef, sha: string): Promise<FetchedTree> {
  // Streamed, not buffered: a large repository costs a pipe, not its size in memory.
  const response = await github.request("GET /repos/{owner}/{repo}/tarball/{ref}", {
    ...repo,
    ref: sha,
    request: { parseSuccessResponseBody: false },
  });
  const body = response.data as unknown;
  if (!(body instanceof ReadableStream))
    throw new Error(`GitHub returned no tarball for ${repo.owner}/${repo.repo}@${sha}`);
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-tree-"));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    await extractTarball(body as ReadableStream<Uint8Array>, dir, {
      what: `${repo.owner}/${repo.repo}@${sha.slice(0, 7)}`,
    });
  } catch (err) {
    cleanup();
    throw err;
  }
  return { dir, cleanup };
}

/**
 * GitHub's tarballs hold one top-level directory (`owner-repo-sha/`); its contents become `dir`. Stops (and
 * fails) once more than `maxBytes` (default MAX_TARBALL_BYTES) arrived, or the tree unpacks to more than
 * `limits` allow.
 */
export async function extractTarball(
  source: ReadableStream<Uint8Array> | Buffer,
  dir: string,
  opts: { what?: string; maxBytes?: number; limits?: Partial<ArchiveLimits> } = {},
): Promise<void> {
  const what = opts.what ?? "the repository";
  const maxBytes = opts.maxBytes ?? MAX_TARBALL_BYTES;
  try {
    await extractTarGz(source as ArchiveInput, dir, {
      what,
      stripComponents: 1,
      // A repository may hold a link to /usr/bin/python in a corner; the engine refuses to follow such links
      // anyway (source/repo-path.ts), so it is left out rather than failing the whole tree.
      escapingSymlinks: "skip",
      limits: {
        maxUnpackedBytes: MAX_TREE_BYTES,
        maxEntries: MAX_TREE_FILES,
        ...opts.limits,
        maxCompressedBytes: maxBytes,
      },
    });
  } catch (err) {
    if (err instanceof ArchiveLimitError && err.limit === "maxCompressedBytes")
      throw new Error(`${what} is over the ${maxBytes} bytes limit for a repository tarball`, { cause: err });
    if (err instanceof ArchiveError)
      throw new Error(`cannot extract the repository tarball: ${err.message}`, { cause: err });
    throw err;
  }
}
