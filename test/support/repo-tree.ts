// Repository trees for engine tests: plain directories written from a map of path → content.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export function writeTree(root: string, files: Record<string, string | null>): void {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    if (content === null) {
      rmSync(full, { recursive: true, force: true });
      continue;
    }
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
}

/** A new tree: under the test run's directory (global-setup.ts removes it at the end), else the system's. */
export function makeRepo(files: Record<string, string>): string {
  const dir = mkdtempSync(join(process.env.GITOPS_BOT_TEST_REPOS ?? tmpdir(), "gitops-bot-repo-"));
  writeTree(dir, files);
  return dir;
}

/** A Flux Kustomization manifest with the fields tests vary. */
export function fluxKustomization(opts: {
  name: string;
  namespace: string;
  path: string;
  prune?: boolean;
  extra?: string;
}): string {
  return `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: ${opts.name}
  namespace: ${opts.namespace}
spec:
  interval: 10m
  path: ${opts.path}
  prune: ${opts.prune ?? true}
  sourceRef:
    kind: GitRepository
    name: flux-system
${opts.extra ?? ""}`;
}

export function configMap(name: string, data: Record<string, string>, namespace?: string): string {
  const ns = namespace ? `\n  namespace: ${namespace}` : "";
  const body = Object.entries(data)
    .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
    .join("\n");
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}${ns}
data:
${body}
`;
}
