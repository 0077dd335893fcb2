// Kustomizations whose sourceRef is another Git repository, served by the real git HTTP server: refs by
// branch, tag and semver, ignore rules, basic auth that never reaches a message or the disk.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import type { RunResult } from "../../src/reconcile/result.js";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { commitFiles, createGitRepo, startGitServer, tagRepo } from "../support/git-server.js";
import { createNamespace, exists, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo, writeTree } from "../support/repo-tree.js";

function gitRepository(name: string, ns: string, url: string, extra: string): string {
  return `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  interval: 5m
  url: ${url}
${extra}`;
}

function fromSource(name: string, ns: string, source: string, path: string): string {
  return fluxKustomization({ name, namespace: ns, path, extra: `  targetNamespace: ${ns}\n` }).replace(
    "name: flux-system",
    `name: ${source}`,
  );
}

describe("GitRepository sources", () => {
  it("builds a Kustomization from another repository at a semver tag, a tag and a branch, with ignore rules", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "gitsrc");
    const name = uniqueName("app-repo");
    const app = await createGitRepo(join(inject("gitRoot"), name), {
      "deploy/a.yaml": configMap("a", { version: "1.0.0" }),
      "deploy/skip.yaml": configMap("skip", { ignored: "yes" }),
    });
    const v100 = await tagRepo(app.dir, "v1.0.0", { message: "release 1.0.0" });
    await commitFiles(app.dir, { "deploy/a.yaml": configMap("a", { version: "1.1.0" }) }, "1.1.0");
    const v110 = await tagRepo(app.dir, "v1.1.0");
    const head = await commitFiles(app.dir, { "deploy/a.yaml": configMap("a", { version: "main" }) }, "main");

    const url = `${inject("gitServerUrl")}/${name}`;
    const cacheDir = mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-"));
    const scope = uniqueName("scope");
    const repo = makeRepo({
      "clusters/dev/source.yaml": gitRepository(
        "app",
        ns,
        url,
        "  ref:\n    semver: '~1.0.0'\n  ignore: /deploy/skip.yaml\n",
      ),
      "clusters/dev/apps.yaml": fromSource("apps", ns, "app", "./deploy"),
    });
    const run = (): Promise<RunResult> =>
      reconcileTree(api, {
        ...defaultReconcileOptions(repo, "clusters/dev"),
        scope,
        cacheDir,
      });
    const data = async () =>
      (
        (await api.read({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: ns } })) as {
          data: Record<string, string>;
        }
      ).data;

    const first = await run();
    expect(first.errors).toEqual([]);
    expect(first.kustomizations[0]).toMatchObject({
      status: "Ready",
      source: `GitRepository/${ns}/app@v1.0.0@sha1:${v100}`,
    });
    expect(first.sources).toEqual([
      { kind: "GitRepository", name: "app", namespace: ns, url, revision: `v1.0.0@sha1:${v100}` },
    ]);
    expect((await data()).version).toBe("1.0.0");
    expect(await exists(api, "v1", "ConfigMap", "skip", ns)).toBe(false);

    writeTree(repo, {
      "clusters/dev/source.yaml": gitRepository("app", ns, url, "  ref:\n    tag: v1.1.0\n"),
    });
    const second = await run();
    expect(second.sources?.[0]?.revision).toBe(`v1.1.0@sha1:${v110}`);
    expect((await data()).version).toBe("1.1.0");
    expect(await exists(api, "v1", "ConfigMap", "skip", ns)).toBe(true);

    writeTree(repo, {
      "clusters/dev/source.yaml": gitRepository("app", ns, url, "  ref:\n    branch: main\n"),
    });
    const third = await run();
    expect(third.sources?.[0]?.revision).toBe(`main@sha1:${head}`);
    expect((await data()).version).toBe("main");

    writeTree(repo, {
      "clusters/dev/source.yaml": gitRepository("app", ns, url, "  ref:\n    branch: nope\n"),
    });
    const missing = await run();
    expect(missing.kustomizations[0]?.status).toBe("Failed");
    expect(missing.kustomizations[0]?.message).toBe(
      `GitRepository/${ns}/app: fetching ${url}: branch "nope" not found`,
    );
  }, 120_000);

  it("authenticates with a secretRef and keeps the password out of messages and the cache", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "gitauth");
    const root = mkdtempSync(join(tmpdir(), "gitops-bot-private-git-"));
    const password = "s3cr3t-git-pass";
    const server = await startGitServer(root, { auth: { user: "bot", password } });
    try {
      await createGitRepo(join(root, "private"), { "deploy/p.yaml": configMap("private", { ok: "yes" }) });
      const cacheDir = mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-"));
      const scope = uniqueName("scope");
      const repo = makeRepo({
        "clusters/dev/source.yaml": gitRepository(
          "private",
          ns,
          `${server.url}/private`,
          "  ref:\n    branch: main\n  secretRef:\n    name: git-auth\n",
        ),
        "clusters/dev/apps.yaml": fromSource("apps", ns, "private", "./deploy"),
      });
      const secret = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "git-auth", namespace: ns },
        stringData: { username: "bot", password: "not-the-password" },
      };
      await api.create(secret);
      const run = () =>
        reconcileTree(api, {
          ...defaultReconcileOptions(repo, "clusters/dev"),
          scope,
          cacheDir,
        });
      const denied = await run();
      expect(denied.kustomizations[0]?.status).toBe("Failed");
      expect(denied.kustomizations[0]?.message).toContain(
        `GitRepository/${ns}/private: fetching ${server.url}/private`,
      );
      expect(JSON.stringify(denied)).not.toContain("not-the-password");

      await api.patch({ ...secret, stringData: { password } });
      const allowed = await run();
      expect(allowed.kustomizations[0]).toMatchObject({ status: "Ready" });
      expect(await exists(api, "v1", "ConfigMap", "private", ns)).toBe(true);
      expect(JSON.stringify(allowed)).not.toContain(password);
      // Nothing in the cache (or a leftover config) holds the credentials.
      const grep = (needle: string) => {
        try {
          return execFileSync("grep", ["-rl", needle, cacheDir], { encoding: "utf8" });
        } catch {
          return "";
        }
      };
      expect(grep(password)).toBe("");
      expect(grep(Buffer.from(`bot:${password}`).toString("base64"))).toBe("");
    } finally {
      await server.stop();
    }
  }, 120_000);

  it("includes another GitRepository's files at toPath", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "gitinc");
    const base = uniqueName("base-repo");
    const shared = uniqueName("shared-repo");
    await createGitRepo(join(inject("gitRoot"), base), {
      "deploy/kustomization.yaml": "resources:\n  - ../common/cm.yaml\n",
    });
    await createGitRepo(join(inject("gitRoot"), shared), {
      "manifests/cm.yaml": configMap("included", { from: "shared" }),
    });
    const url = (name: string) => `${inject("gitServerUrl")}/${name}`;
    const repo = makeRepo({
      "clusters/dev/sources.yaml": `${gitRepository(
        "base",
        ns,
        url(base),
        `  ref:\n    branch: main\n  include:\n    - repository:\n        name: shared\n      fromPath: manifests\n      toPath: common\n`,
      )}---\n${gitRepository("shared", ns, url(shared), "  ref:\n    branch: main\n")}`,
      "clusters/dev/apps.yaml": fromSource("apps", ns, "base", "./common"),
    });
    const run = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
      cacheDir: mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-")),
    });
    expect(run.kustomizations[0]?.errors).toEqual([]);
    expect(run.kustomizations[0]).toMatchObject({ status: "Ready" });
    expect(await exists(api, "v1", "ConfigMap", "included", ns)).toBe(true);
  });
});
