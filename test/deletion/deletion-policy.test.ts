// Flux's spec.deletionPolicy when a Kustomization leaves Git, on the real API server: Delete prunes even with
// prune: false, Orphan keeps even with prune: true, WaitForTermination waits for finalizers within the timeout.
import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { createNamespace, exists, PatchStrategy, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo, writeTree } from "../support/repo-tree.js";

const api = testObjectApi();

async function applyThenRemove(extra: string, prune: boolean, cm = configMap("kept", { a: "1" })) {
  const ns = await createNamespace(api, "deletion");
  const repo = makeRepo({
    "clusters/dev/apps.yaml": fluxKustomization({
      name: "apps",
      namespace: ns,
      path: "./apps",
      prune,
      extra: `  targetNamespace: ${ns}\n${extra}`,
    }),
    "apps/cm.yaml": cm,
  });
  const opts = { ...defaultReconcileOptions(repo, "clusters/dev"), scope: uniqueName("scope") };
  const first = await reconcileTree(api, opts);
  expect(first.errors).toEqual([]);
  expect(await exists(api, "v1", "ConfigMap", "kept", ns)).toBe(true);
  writeTree(repo, {
    "clusters/dev/apps.yaml": null,
    "clusters/dev/other.yaml": fluxKustomization({ name: "other", namespace: ns, path: "./other" }),
    "other/cm.yaml": configMap("other", { x: "1" }, ns),
  });
  return { ns, run: () => reconcileTree(api, opts) };
}

describe("deletionPolicy", () => {
  it("Delete prunes the objects of a removed Kustomization even with prune: false", async () => {
    const { ns, run } = await applyThenRemove("  deletionPolicy: Delete\n", false);
    const second = await run();
    expect(second.errors).toEqual([]);
    expect(await exists(api, "v1", "ConfigMap", "kept", ns)).toBe(false);
  });

  it("Orphan keeps them even with prune: true, and says so", async () => {
    const { ns, run } = await applyThenRemove("  deletionPolicy: Orphan\n", true);
    const second = await run();
    expect(second.errors).toEqual([]);
    expect(second.kustomizations.find((k) => k.name === "apps")?.message).toBe(
      "removed from Git: deletionPolicy is Orphan, objects kept",
    );
    expect(await exists(api, "v1", "ConfigMap", "kept", ns)).toBe(true);
  });

  it("MirrorPrune (the default) follows prune", async () => {
    const { ns, run } = await applyThenRemove("", true);
    await run();
    expect(await exists(api, "v1", "ConfigMap", "kept", ns)).toBe(false);
  });

  it("WaitForTermination fails while a finalizer holds an object, and succeeds once it is gone", async () => {
    const held = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  finalizers: [example.com/hold]\ndata:\n  a: "1"\n`;
    const { ns, run } = await applyThenRemove(
      "  deletionPolicy: WaitForTermination\n  timeout: 2s\n",
      true,
      held,
    );
    const second = await run();
    const k = second.kustomizations.find((r) => r.name === "apps");
    expect(k?.status).toBe("Failed");
    expect(k?.errors.join("\n")).toContain(
      `Kustomization/${ns}/apps: deletionPolicy WaitForTermination: 1 object(s) still terminating after 2s: ConfigMap/${ns}/kept`,
    );
    await api.patch(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "kept", namespace: ns, finalizers: [] },
      } as KubernetesObject,
      undefined,
      undefined,
      "test",
      undefined,
      PatchStrategy.MergePatch,
    );
    const third = await run();
    expect(third.kustomizations.find((r) => r.name === "apps")?.status).toBe("Ready");
    expect(await exists(api, "v1", "ConfigMap", "kept", ns)).toBe(false);
  });
});
