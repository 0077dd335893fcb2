// The repository tree at one commit, from GitHub's tarball endpoint with the installation token: no clone, and
// no credentials written to disk. Extracted by the system `tar`, which refuses absolute paths and `..`;
// symlinks that point out of the tree are rejected later by the engine (source/repo-path.ts).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GitHubClient, RepoRef } from "./client.js";

/** A tarball larger than this is refused rather than filling the disk. */
export const MAX_TARBALL_BYTES = 256 * 1024 * 1024;

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
 * fails) once more than `maxBytes` (default MAX_TARBALL_BYTES) arrived.
 */
export async function extractTarball(
  source: ReadableStream<Uint8Array> | Buffer,
  dir: string,
  opts: { what?: string; maxBytes?: number } = {},
): Promise<void> {
  const what = opts.what ?? "the repository";
  const maxBytes = opts.maxBytes ?? MAX_TARBALL_BYTES;
  const tar = spawn(
    "tar",
    ["-xz", "--strip-components=1", "--no-same-owner", "--no-same-permissions", "-C", dir, "-f", "-"],
    { stdio: ["pipe", "ignore", "pipe"] },
  );
  let stderr = "";
  tar.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    tar.on("error", reject);
    tar.on("close", resolve);
  });
  tar.stdin.on("error", () => {
    // tar closed its input early; its exit code tells why
  });
  let received = 0;
  let tooLarge = false;
  const write = (chunk: Uint8Array) =>
    new Promise<void>((resolve) => (tar.stdin.write(chunk) ? resolve() : tar.stdin.once("drain", resolve)));
  if (Buffer.isBuffer(source)) {
    received = source.length;
    tooLarge = received > maxBytes;
    if (!tooLarge) await write(source);
  } else {
    const reader = source.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.length;
      if (received > maxBytes) {
        tooLarge = true;
        await reader.cancel();
        break;
      }
      await write(value);
    }
  }
  if (tooLarge) {
    tar.kill();
    await exited.catch(() => undefined);
    throw new Error(`${what} is over the ${maxBytes} bytes limit for a repository tarball`);
  }
  tar.stdin.end();
  const code = await exited;
  if (code !== 0)
    throw new Error(`cannot extract the repository tarball: ${stderr.trim() || `tar exited ${code}`}`);
}
