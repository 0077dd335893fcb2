import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { inventoryScope, repositoryIdentity } from "../reconcile/scope.js";

/** The repository root for a path given on the command line: --repo, else the enclosing git checkout, else cwd. */
export function locate(
  pathArg: string,
  repoOption: string | undefined,
  cwd = process.cwd(),
): { repoDir: string; clusterPath: string } {
  let repoDir = repoOption ? resolve(cwd, repoOption) : undefined;
  // With --repo, a relative cluster path is read inside that repository, as in `--repo ../fleet clusters/dev`.
  const abs = resolve(repoDir ?? cwd, pathArg);
  if (!repoDir) {
    for (let dir = abs; ; dir = dirname(dir)) {
      if (existsSync(join(dir, ".git"))) {
        repoDir = dir;
        break;
      }
      if (dirname(dir) === dir) break;
    }
  }
  repoDir ??= cwd;
  const clusterPath = relative(repoDir, abs) || ".";
  if (clusterPath.startsWith("..")) throw new Error(`${pathArg} is outside the repository ${repoDir}`);
  return { repoDir, clusterPath };
}

/**
 * Who owns what this CLI run applies: the repository's origin URL (else its directory) and the cluster path.
 * Two checkouts of one repository agree; two repositories never prune each other's Kustomizations.
 */
export function defaultScope(repoDir: string, clusterPath: string): string {
  let origin: string | undefined;
  try {
    origin = execFileSync("git", ["-C", repoDir, "remote", "get-url", "origin"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    origin = undefined;
  }
  const repo = origin ? repositoryIdentity(origin) : repoDir;
  return inventoryScope(repo, clusterPath);
}
