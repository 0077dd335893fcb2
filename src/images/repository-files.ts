// The file tree image automation reads and edits: a local checkout for the CLI, a commit on GitHub for the
// bot. Paths are repository-relative with forward slashes.
import { readdir, readFile } from "node:fs/promises";
import { join, posix, relative, resolve, sep } from "node:path";

export interface RepositoryFiles {
  /** Every `.yaml` / `.yml` file at or under `dir`, sorted. */
  listYamlFiles(dir: string): Promise<string[]>;
  read(file: string): Promise<string>;
}

export const isYamlFile = (path: string) => /\.ya?ml$/i.test(path);

/** `./apps/`, `apps`, `` and `.` all name the same directory: `apps` (or `` for the root). */
export function normaliseRepositoryPath(path: string | undefined): string {
  // Relative to the root even when written with a leading slash; normalising keeps a leading ".." visible.
  const relativePath = (path ?? "").replaceAll("\\", "/").replace(/^\/+/, "");
  const normal = posix.normalize(relativePath === "" ? "." : relativePath).replace(/\/+$/, "");
  if (normal === ".." || normal.startsWith("../")) throw new Error(`path "${path}" leaves the repository`);
  return normal === "." ? "" : normal;
}

export function isUnder(file: string, dir: string): boolean {
  return dir === "" || file === dir || file.startsWith(`${dir}/`);
}

export function localRepositoryFiles(root: string): RepositoryFiles {
  const absoluteRoot = resolve(root);
  return {
    async listYamlFiles(dir) {
      const start = join(absoluteRoot, normaliseRepositoryPath(dir));
      const found: string[] = [];
      const walk = async (current: string): Promise<void> => {
        for (const entry of await readdir(current, { withFileTypes: true })) {
          // Dot-directories (.git, .github) never hold manifests Flux would apply.
          if (entry.name.startsWith(".")) continue;
          const path = join(current, entry.name);
          if (entry.isDirectory()) await walk(path);
          else if (entry.isFile() && isYamlFile(entry.name))
            found.push(relative(absoluteRoot, path).split(sep).join("/"));
        }
      };
      await walk(start);
      return found.sort();
    },
    read: (file) => readFile(join(absoluteRoot, normaliseRepositoryPath(file)), "utf8"),
  };
}
