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
  const response = await github.rest.repos.downloadTarballArchive({ ...repo, ref: sha });
  const data = response.data as unknown;
  const bytes =
    data instanceof ArrayBuffer
      ? Buffer.from(data)
      : Buffer.isBuffer(data)
        ? data
        : typeof data === "string"
          ? Buffer.from(data, "binary")
          : undefined;
  if (!bytes) throw new Error(`GitHub returned no tarball for ${repo.owner}/${repo.repo}@${sha}`);
  if (bytes.length > MAX_TARBALL_BYTES) {
    throw new Error(
      `${repo.owner}/${repo.repo}@${sha.slice(0, 7)} is ${Math.round(bytes.length / 1e6)} MB, over the ${MAX_TARBALL_BYTES / 1e6} MB limit`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-tree-"));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    await extractTarball(bytes, dir);
  } catch (err) {
    cleanup();
    throw err;
  }
  return { dir, cleanup };
}

/** GitHub's tarballs hold one top-level directory (`owner-repo-sha/`); its contents become `dir`. */
export function extractTarball(bytes: Buffer, dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn(
      "tar",
      ["-xz", "--strip-components=1", "--no-same-owner", "--no-same-permissions", "-C", dir, "-f", "-"],
      { stdio: ["pipe", "ignore", "pipe"] },
    );
    let stderr = "";
    tar.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    tar.on("error", reject);
    tar.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(`cannot extract the repository tarball: ${stderr.trim() || `tar exited ${code}`}`),
          ),
    );
    tar.stdin.on("error", () => {
      // tar closed its input early; the exit code tells why
    });
    tar.stdin.end(bytes);
  });
}
