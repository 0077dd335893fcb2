// The kustomize build cache: a tree built before is not built again, and any change to what the output
// depends on (a file, the Kustomization's build fields, the binary) builds again.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { referencesRemote, treeDigest } from "../../src/build/build-cache.js";
import { buildTree, defaultReconcileOptions } from "../../src/reconcile/run.js";
import { configMap, fluxKustomization, makeRepo, writeTree } from "../support/repo-tree.js";

let saved: Record<string, string | undefined>;
let counter: string;

beforeEach(() => {
  saved = { cache: process.env.GITOPS_BOT_BUILD_CACHE, kustomize: process.env.GITOPS_BOT_KUSTOMIZE };
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-cache-test-"));
  counter = join(dir, "calls");
  writeFileSync(counter, "");
  // A kustomize that counts its calls, then runs the real one.
  const wrapper = join(dir, "kustomize");
  writeFileSync(wrapper, `#!/bin/sh\necho x >> ${counter}\nexec ${saved.kustomize ?? "kustomize"} "$@"\n`);
  chmodSync(wrapper, 0o755);
  process.env.GITOPS_BOT_KUSTOMIZE = wrapper;
  process.env.GITOPS_BOT_BUILD_CACHE = join(dir, "cache");
});

afterEach(() => {
  process.env.GITOPS_BOT_BUILD_CACHE = saved.cache;
  process.env.GITOPS_BOT_KUSTOMIZE = saved.kustomize;
});

const calls = () => readFileSync(counter, "utf8").split("\n").filter(Boolean).length;

function repo(prefix = "") {
  return makeRepo({
    "clusters/dev/apps.yaml": fluxKustomization({
      name: "apps",
      namespace: "flux-system",
      path: "./apps",
      extra: prefix ? `  namePrefix: ${prefix}\n` : "",
    }),
    "apps/a.yaml": configMap("a", { color: "blue" }),
  });
}

describe("build cache", () => {
  it("builds an unchanged tree once, and again after a file or a build field changes", async () => {
    const dir = repo();
    const names = async () =>
      (await buildTree(defaultReconcileOptions(dir, "clusters/dev"))).kustomizations.flatMap((k) =>
        k.objects.map((o) => `${o.metadata?.name}=${(o as { data?: { color?: string } }).data?.color}`),
      );
    expect(await names()).toEqual(["a=blue"]);
    expect(calls()).toBe(1);
    expect(await names()).toEqual(["a=blue"]);
    expect(calls()).toBe(1);

    writeTree(dir, { "apps/a.yaml": configMap("a", { color: "green" }) });
    expect(await names()).toEqual(["a=green"]);
    expect(calls()).toBe(2);

    const prefixed = repo("x-");
    expect(
      await (await buildTree(defaultReconcileOptions(prefixed, "clusters/dev"))).kustomizations[0]?.objects[0]
        ?.metadata?.name,
    ).toBe("x-a");
    expect(calls()).toBe(3);
  });

  it("is off with GITOPS_BOT_BUILD_CACHE=off", async () => {
    process.env.GITOPS_BOT_BUILD_CACHE = "off";
    const dir = repo();
    await buildTree(defaultReconcileOptions(dir, "clusters/dev"));
    await buildTree(defaultReconcileOptions(dir, "clusters/dev"));
    expect(calls()).toBe(2);
  });

  it("digests paths, contents and the executable bit", () => {
    const dir = makeRepo({ "a.yaml": "x: 1\n", "b/c.yaml": "y: 2\n" });
    const first = treeDigest(dir);
    expect(treeDigest(dir)).toBe(first);
    chmodSync(join(dir, "a.yaml"), 0o755);
    const executable = treeDigest(dir);
    expect(executable).not.toBe(first);
    writeTree(dir, { "b/c.yaml": "y: 3\n" });
    expect(treeDigest(dir)).not.toBe(executable);
  });

  it("never caches a tree whose kustomizations reach outside it", () => {
    const local = makeRepo({ "apps/kustomization.yaml": "resources:\n- a.yaml\n" });
    const remote = makeRepo({
      "apps/kustomization.yaml": "resources:\n- https://github.com/acme/base//deploy?ref=main\n",
    });
    const shorthand = makeRepo({ "apps/kustomization.yaml": "resources:\n- github.com/acme/base/deploy\n" });
    expect(referencesRemote(local)).toBe(false);
    expect(referencesRemote(remote)).toBe(true);
    expect(referencesRemote(shorthand)).toBe(true);
  });
});
