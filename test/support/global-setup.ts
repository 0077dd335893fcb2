// Starts the real components once per test run and hands their addresses to the test files via `provide`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { ensureBinaries, startControlPlane } from "./control-plane.js";
import { startGitServer } from "./git-server.js";
import { startRegistry } from "./registry.js";

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfigPath: string;
    binDir: string;
    registryHost: string;
    gitServerUrl: string;
    gitRoot: string;
  }
}

export default async function setup(project: TestProject) {
  const started = Date.now();
  const binDir = ensureBinaries();
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-harness-"));
  const gitRoot = join(dir, "git");
  const [plane, registry, git] = await Promise.all([
    startControlPlane({ dir: join(dir, "cluster"), binDir }),
    // In-memory storage: nothing to clean up, and pushes of thousands of tags are not bound by fsync.
    startRegistry({ storage: "inmemory" }),
    startGitServer(gitRoot),
  ]);
  // The product finds kustomize and helm on PATH like a user's shell would.
  process.env.PATH = `${binDir}:${process.env.PATH}`;
  process.env.GITOPS_BOT_KUSTOMIZE ??= join(binDir, "kustomize");
  process.env.GITOPS_BOT_HELM ??= join(binDir, "helm");
  process.env.KUBECONFIG = plane.kubeconfigPath;
  // Builds cached by the tests stay with this run, not in the user's ~/.cache.
  process.env.GITOPS_BOT_BUILD_CACHE ??= join(dir, "build-cache");
  // The repository trees tests write (repo-tree.ts makeRepo) go with the run: a suite makes thousands.
  const repos = mkdtempSync(join(tmpdir(), "gitops-bot-test-repos-"));
  process.env.GITOPS_BOT_TEST_REPOS = repos;
  // And so does every other temporary file of the test files and what they run (os.tmpdir() reads TMPDIR;
  // the workers, forked after this, inherit it): a suite run left some 1,500 directories in /tmp otherwise.
  const scratch = mkdtempSync(join(tmpdir(), "gitops-bot-tmp-"));
  process.env.TMPDIR = scratch;
  console.log(
    `harness: kube-apiserver ${plane.version} at ${plane.server}, registry ${registry.host}, git ${git.url}; ` +
      `started in ${((Date.now() - started) / 1000).toFixed(1)} s (logs in ${dir})`,
  );
  project.provide("kubeconfigPath", plane.kubeconfigPath);
  project.provide("binDir", binDir);
  project.provide("registryHost", registry.host);
  project.provide("gitServerUrl", git.url);
  project.provide("gitRoot", gitRoot);

  return async () => {
    await Promise.allSettled([plane.stop(), registry.stop(), git.stop()]);
    if (!process.env.GITOPS_BOT_KEEP_HARNESS) rmSync(dir, { recursive: true, force: true });
    rmSync(repos, { recursive: true, force: true, maxRetries: 3 });
    // A program a test started may still be writing there as the run ends: retried, never failing the run.
    if (!process.env.GITOPS_BOT_KEEP_HARNESS)
      rmSync(scratch, { recursive: true, force: true, maxRetries: 3 });
  };
}
