// A tree Flux applied first, then the bot: Flux's kustomize-controller applied a ConfigMap with keys a and b
// (server-side, field manager kustomize-controller, Flux's owner labels) and recorded it and a second object in
// its Kustomization's status.inventory. Git then keeps only key a, and drops the second object. The bot's first
// reconcile must remove b (take over Flux's fields) and prune the dropped object (read Flux's inventory).
import type { KubernetesObject } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { installFluxCrds, writeStatus } from "../support/flux-controller.js";
import { createNamespace, exists, PatchStrategy, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

async function fluxApply(api: RawObjectApi, obj: KubernetesObject): Promise<void> {
  await api.patch(obj, undefined, undefined, "kustomize-controller", true, PatchStrategy.ServerSideApply);
}

let api: RawObjectApi;
beforeAll(async () => {
  api = testObjectApi();
  // Flux's real CRDs, as test/moving-from-flux/real-flux.test.ts installs them in the same API server (a minimal
  // stand-in applied here would take the status subresource away from the real controller there).
  await installFluxCrds(api);
});

describe("moving from Flux", () => {
  it("takes over the fields Flux applied and prunes what Flux's inventory lists but Git dropped", async () => {
    const ns = await createNamespace(api, "from-flux");
    const labels = {
      "kustomize.toolkit.fluxcd.io/name": "apps",
      "kustomize.toolkit.fluxcd.io/namespace": ns,
    };
    await fluxApply(api, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "settings", namespace: ns, labels },
      data: { a: "1", b: "2" },
    } as KubernetesObject);
    await fluxApply(api, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "retired", namespace: ns, labels },
      data: { x: "1" },
    } as KubernetesObject);
    // An object of someone else in Flux's inventory with foreign labels is never deleted.
    await api.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "foreign", namespace: ns },
      data: { y: "1" },
    } as KubernetesObject);
    await fluxApply(api, {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name: "apps", namespace: ns },
      spec: {
        interval: "10m",
        path: "./apps",
        prune: true,
        sourceRef: { kind: "GitRepository", name: "flux-system" },
      },
      status: {
        inventory: {
          entries: [
            { id: `${ns}_settings__ConfigMap`, v: "v1" },
            { id: `${ns}_retired__ConfigMap`, v: "v1" },
            { id: `${ns}_foreign__ConfigMap`, v: "v1" },
            { id: "not an id", v: "v1" },
          ],
        },
      },
    } as KubernetesObject);
    // Flux's CRD has a status subresource: the inventory is written there, as kustomize-controller does.
    await writeStatus("/apis/kustomize.toolkit.fluxcd.io/v1", ns, "kustomizations", "apps", {
      inventory: {
        entries: [
          { id: `${ns}_settings__ConfigMap`, v: "v1" },
          { id: `${ns}_retired__ConfigMap`, v: "v1" },
          { id: `${ns}_foreign__ConfigMap`, v: "v1" },
          { id: "not an id", v: "v1" },
        ],
      },
    });

    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      "apps/settings.yaml": configMap("settings", { a: "1" }),
    });
    const result = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
    });
    expect(result.errors).toEqual([]);
    const k = result.kustomizations.find((r) => r.name === "apps");
    expect(k?.status).toBe("Ready");

    const live = (await api.read({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "settings", namespace: ns },
    })) as KubernetesObject & {
      data: Record<string, string>;
    };
    expect(live.data).toEqual({ a: "1" });
    const managers = (live.metadata?.managedFields ?? []).map((m) => m.manager);
    expect(managers).not.toContain("kustomize-controller");
    expect(managers).toContain("gitops-bot");

    expect(await exists(api, "v1", "ConfigMap", "retired", ns)).toBe(false);
    expect(await exists(api, "v1", "ConfigMap", "foreign", ns)).toBe(true);
    expect(Object.fromEntries((k?.changes ?? []).map((c) => [c.subject, c.action]))).toMatchObject({
      [`ConfigMap/${ns}/settings`]: "configured",
      [`ConfigMap/${ns}/retired`]: "deleted",
    });
  });

  it("a preview takes nothing over: the live object keeps Flux's fields", async () => {
    const ns = await createNamespace(api, "from-flux-dry");
    const labels = {
      "kustomize.toolkit.fluxcd.io/name": "apps",
      "kustomize.toolkit.fluxcd.io/namespace": ns,
    };
    await fluxApply(api, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "settings", namespace: ns, labels },
      data: { a: "1", b: "2" },
    } as KubernetesObject);
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      "apps/settings.yaml": configMap("settings", { a: "1" }),
    });
    const result = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
      dryRun: true,
    });
    expect(result.errors).toEqual([]);
    const live = await api.read({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "settings", namespace: ns },
    });
    expect((live.metadata?.managedFields ?? []).map((m) => m.manager)).toContain("kustomize-controller");
  });
});
