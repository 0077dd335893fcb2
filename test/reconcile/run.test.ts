// The engine against the real API server and the real kustomize: each test writes a repository tree,
// reconciles it, and reads the cluster back. Every test has its own namespace and scope.
import { describe, expect, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { readInventory } from "../../src/cluster/ssa/inventory.js";
import type { KustomizationResult, RunResult } from "../../src/reconcile/result.js";
import { defaultReconcileOptions, type ReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { createNamespace, exists, PatchStrategy, testObjectApi, uniqueName } from "../support/kube.js";
import { waitFor } from "../support/processes.js";
import { configMap, fluxKustomization, makeRepo, writeTree } from "../support/repo-tree.js";

interface Fixture {
  api: RawObjectApi;
  ns: string;
  repo: string;
  run(overrides?: Partial<ReconcileOptions>): Promise<RunResult>;
}

async function fixture(files: (ns: string) => Record<string, string>): Promise<Fixture> {
  const api = testObjectApi();
  const ns = await createNamespace(api, "engine");
  const repo = makeRepo(files(ns));
  const scope = uniqueName("scope");
  return {
    api,
    ns,
    repo,
    run: (overrides = {}) =>
      reconcileTree(api, { ...defaultReconcileOptions(repo, "clusters/dev"), scope, ...overrides }),
  };
}

function ks(run: RunResult, name: string): KustomizationResult {
  const found = run.kustomizations.find((k) => k.name === name);
  if (!found) throw new Error(`no result for ${name}: ${JSON.stringify(run, null, 2)}`);
  return found;
}

function actions(k: KustomizationResult): Record<string, string> {
  return Object.fromEntries(k.changes.map((c) => [c.subject, c.action]));
}

describe("reconcile", () => {
  it("creates, then leaves unchanged, and records the inventory in the cluster", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      "apps/a.yaml": configMap("a", { color: "blue" }),
      "apps/b.yaml": configMap("b", { size: "L" }),
    }));
    const first = await f.run();
    expect(first.errors).toEqual([]);
    expect(ks(first, "apps").status).toBe("Ready");
    expect(actions(ks(first, "apps"))).toEqual({
      [`ConfigMap/${f.ns}/a`]: "created",
      [`ConfigMap/${f.ns}/b`]: "created",
    });
    const live = (await f.api.read({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "a", namespace: f.ns },
    })) as {
      metadata: { labels: Record<string, string> };
    };
    expect(live.metadata.labels["kustomize.toolkit.fluxcd.io/name"]).toBe("apps");

    const second = await f.run();
    expect(actions(ks(second, "apps"))).toEqual({
      [`ConfigMap/${f.ns}/a`]: "unchanged",
      [`ConfigMap/${f.ns}/b`]: "unchanged",
    });
    const inventory = await readInventory(f.api, { name: "apps", namespace: f.ns });
    expect(inventory?.entries.map((e) => e.id).sort()).toEqual([
      `${f.ns}_a__ConfigMap`,
      `${f.ns}_b__ConfigMap`,
    ]);
  });

  it("corrects drift made in the cluster after a no-op run, though no-op runs skip the dry-run", async () => {
    const objects = Object.fromEntries(
      Array.from({ length: 6 }, (_, i) => [`apps/c${i}.yaml`, configMap(`c${i}`, { color: "blue" })]),
    );
    const f = await fixture((ns) => ({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      ...objects,
    }));
    await f.run();
    const unchanged = await f.run();
    expect(new Set(Object.values(actions(ks(unchanged, "apps"))))).toEqual(new Set(["unchanged"]));
    // The fast path's evidence: every object's hash and resourceVersion are in the inventory.
    const inventory = await readInventory(f.api, { name: "apps", namespace: f.ns });
    expect(inventory?.entries.every((e) => e.h && e.l)).toBe(true);

    // Someone edits one object in the cluster: its live hash moves, so the next run compares it again.
    await f.api.patch(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "c3", namespace: f.ns },
        data: { color: "red" },
      },
      undefined,
      undefined,
      "kubectl-edit",
      true,
      PatchStrategy.ServerSideApply,
    );
    const corrected = await f.run();
    expect(actions(ks(corrected, "apps"))[`ConfigMap/${f.ns}/c3`]).toBe("configured");
    expect(Object.values(actions(ks(corrected, "apps"))).filter((a) => a === "configured")).toHaveLength(1);
    const live = (await f.api.read({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c3", namespace: f.ns },
    })) as {
      data: Record<string, string>;
    };
    expect(live.data.color).toBe("blue");
  });

  it("prunes objects that left Git, but keeps those with prune: disabled", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      "apps/keep.yaml": configMap("keep", { a: "1" }),
      "apps/gone.yaml": configMap("gone", { a: "1" }),
      "apps/sticky.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: sticky
  annotations:
    kustomize.toolkit.fluxcd.io/prune: disabled
data: {a: "1"}
`,
    }));
    await f.run();
    writeTree(f.repo, { "apps/gone.yaml": null, "apps/sticky.yaml": null });
    const run = await f.run();
    expect(actions(ks(run, "apps"))).toMatchObject({
      [`ConfigMap/${f.ns}/keep`]: "unchanged",
      [`ConfigMap/${f.ns}/gone`]: "deleted",
      [`ConfigMap/${f.ns}/sticky`]: "skipped",
    });
    expect(await exists(f.api, "v1", "ConfigMap", "gone", f.ns)).toBe(false);
    expect(await exists(f.api, "v1", "ConfigMap", "sticky", f.ns)).toBe(true);
  });

  it("prunes every object of a Kustomization deleted from Git", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      "apps/a.yaml": configMap("a", { a: "1" }),
    }));
    await f.run();
    writeTree(f.repo, {
      "clusters/dev/apps.yaml": null,
      "clusters/dev/other.yaml": configMap("placeholder", { x: "y" }),
    });
    const run = await f.run();
    expect(ks(run, "apps").message).toMatch(/removed from Git: 1 deleted/);
    expect(await exists(f.api, "v1", "ConfigMap", "a", f.ns)).toBe(false);
    expect(await readInventory(f.api, { name: "apps", namespace: f.ns })).toBeUndefined();
  });

  it("applies a CRD and its custom objects in one Kustomization", async () => {
    const group = `${uniqueName("g")}.example.com`;
    const f = await fixture((ns) => ({
      "clusters/dev/crds.yaml": fluxKustomization({ name: "crds", namespace: ns, path: "./crds" }),
      "crds/crd.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.${group}
spec:
  group: ${group}
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`,
      "crds/widget.yaml": `apiVersion: ${group}/v1
kind: Widget
metadata:
  name: w1
  namespace: ${ns}
spec:
  size: 3
`,
    }));
    const run = await f.run();
    expect(ks(run, "crds").errors).toEqual([]);
    expect(actions(ks(run, "crds"))).toEqual({
      [`CustomResourceDefinition/widgets.${group}`]: "created",
      [`Widget/${f.ns}/w1`]: "created",
    });
    expect(await exists(f.api, `${group}/v1`, "Widget", "w1", f.ns)).toBe(true);
    // clean up the cluster-scoped CRD so the shared API server stays small
    writeTree(f.repo, {
      "clusters/dev/crds.yaml": null,
      "clusters/dev/none.yaml": configMap("none", { x: "y" }),
    });
    const pruned = await f.run();
    expect(ks(pruned, "crds").message).toMatch(/removed from Git: 2 deleted/);
    // A deleted CRD is gone only once the API server's finalizer has removed its custom objects: asynchronous,
    // seconds on a loaded machine; the prune itself does not wait (Flux's `wait: false`).
    await waitFor(
      "the pruned CRD to be gone",
      async () =>
        !(await exists(f.api, "apiextensions.k8s.io/v1", "CustomResourceDefinition", `widgets.${group}`)),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  });

  it("orders by dependsOn and skips dependents of a failed Kustomization", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/infra.yaml": fluxKustomization({
        name: "infra",
        namespace: ns,
        path: "./infra",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n  dependsOn:\n  - name: infra\n`,
      }),
      "infra/cm.yaml": configMap("infra", { a: "1" }),
      "apps/cm.yaml": configMap("app", { a: "1" }),
    }));
    const order: string[] = [];
    const ok = await f.run({ onProgress: (e) => e.type === "started" && order.push(e.kustomization) });
    expect(order).toEqual([`${f.ns}/infra`, `${f.ns}/apps`]);
    expect(ks(ok, "apps").status).toBe("Ready");

    // An object the API server rejects fails infra; apps must not run.
    writeTree(f.repo, {
      "infra/bad.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndata: {'not a key!': '1'}\n",
    });
    const failed = await f.run();
    expect(ks(failed, "infra").status).toBe("Failed");
    expect(ks(failed, "infra").message).toMatch(
      new RegExp(`^ConfigMap/${f.ns}/bad dry-run failed: .*Invalid value`),
    );
    expect(ks(failed, "apps").status).toBe("DependencyNotReady");
    expect(ks(failed, "apps").message).toBe(`dependency ${f.ns}/infra is not ready`);
  });

  it("fails a Kustomization that depends on one that does not exist", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: "  dependsOn:\n  - name: ghost\n",
      }),
      "apps/cm.yaml": configMap("app", { a: "1" }, "default"),
    }));
    const run = await f.run();
    expect(ks(run, "apps").status).toBe("Failed");
    expect(ks(run, "apps").message).toBe(`dependency ${f.ns}/ghost not found`);
  });

  it("rejects a dependency cycle before applying anything", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/a.yaml": fluxKustomization({
        name: "a",
        namespace: ns,
        path: "./a",
        extra: "  dependsOn:\n  - name: b\n",
      }),
      "clusters/dev/b.yaml": fluxKustomization({
        name: "b",
        namespace: ns,
        path: "./b",
        extra: "  dependsOn:\n  - name: a\n",
      }),
      "a/cm.yaml": configMap("a", { a: "1" }, ns),
      "b/cm.yaml": configMap("b", { a: "1" }, ns),
    }));
    const run = await f.run();
    expect(run.errors).toEqual([`dependency cycle: ${f.ns}/a -> ${f.ns}/b -> ${f.ns}/a`]);
    expect(await exists(f.api, "v1", "ConfigMap", "a", f.ns)).toBe(false);
  });

  it("skips suspended Kustomizations", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: "  suspend: true\n",
      }),
      "apps/cm.yaml": configMap("app", { a: "1" }, ns),
    }));
    const run = await f.run();
    expect(ks(run, "apps").status).toBe("Suspended");
    expect(await exists(f.api, "v1", "ConfigMap", "app", f.ns)).toBe(false);
  });

  it("reconciles Kustomizations found inside another Kustomization's build", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/root.yaml": fluxKustomization({ name: "root", namespace: ns, path: "./tree" }),
      "tree/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      "apps/cm.yaml": configMap("nested", { a: "1" }),
    }));
    const run = await f.run();
    expect(ks(run, "apps").status).toBe("Ready");
    expect(await exists(f.api, "v1", "ConfigMap", "nested", f.ns)).toBe(true);
  });

  it("honours ssa: IfNotPresent and ssa: Ignore", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      "apps/once.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: once
  annotations: {kustomize.toolkit.fluxcd.io/ssa: IfNotPresent}
data: {v: "1"}
`,
      "apps/ignored.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: ignored
  annotations: {kustomize.toolkit.fluxcd.io/ssa: Ignore}
data: {v: "1"}
`,
    }));
    await f.run();
    expect(await exists(f.api, "v1", "ConfigMap", "once", f.ns)).toBe(true);
    expect(await exists(f.api, "v1", "ConfigMap", "ignored", f.ns)).toBe(false);
    writeTree(f.repo, {
      "apps/once.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: once
  annotations: {kustomize.toolkit.fluxcd.io/ssa: IfNotPresent}
data: {v: "2"}
`,
    });
    const run = await f.run();
    expect(actions(ks(run, "apps"))[`ConfigMap/${f.ns}/once`]).toBe("skipped");
    const live = (await f.api.read({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "once", namespace: f.ns },
    })) as {
      data: Record<string, string>;
    };
    expect(live.data.v).toBe("1");
  });

  it("substitutes variables from substitute and substituteFrom, substitute winning", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}
  postBuild:
    substitute:
      region: eu-1
    substituteFrom:
    - kind: ConfigMap
      name: cluster-vars
    - kind: Secret
      name: cluster-secrets
    - kind: ConfigMap
      name: not-there
      optional: true
`,
      }),
      "apps/cm.yaml": configMap("rendered", {
        cluster: "${cluster}",
        region: "${region}",
        token: "${token}",
        tier: "${tier:=gold}",
      }),
    }));
    await f.api.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "cluster-vars", namespace: f.ns },
      data: { cluster: "dev", region: "us-1" },
    } as never);
    await f.api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "cluster-secrets", namespace: f.ns },
      data: { token: Buffer.from("s3cret").toString("base64") },
    } as never);
    const run = await f.run();
    expect(ks(run, "apps").errors).toEqual([]);
    const live = (await f.api.read({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "rendered", namespace: f.ns },
    })) as { data: Record<string, string> };
    expect(live.data).toEqual({ cluster: "dev", region: "eu-1", token: "s3cret", tier: "gold" });
  });

  it("fails with the reference when a required substituteFrom source is missing", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: "  postBuild:\n    substituteFrom:\n    - kind: ConfigMap\n      name: absent\n",
      }),
      "apps/cm.yaml": configMap("rendered", { a: "1" }, ns),
    }));
    const run = await f.run();
    expect(ks(run, "apps").status).toBe("Failed");
    expect(ks(run, "apps").message).toBe(
      `Kustomization/${f.ns}/apps: substituteFrom ConfigMap/${f.ns}/absent: not found`,
    );
    expect(ks(run, "apps").notApplied).toEqual([`ConfigMap/${f.ns}/rendered`]);
  });
});
