import { existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** The repository root for a path given on the command line: --repo, else the enclosing git checkout, else cwd. */
export function locate(
  pathArg: string,
  repoOption: string | undefined,
  cwd = process.cwd(),
): { repoDir: string; clusterPath: string } {
  const abs = resolve(cwd, pathArg);
  let repoDir = repoOption ? resolve(cwd, repoOption) : undefined;
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
