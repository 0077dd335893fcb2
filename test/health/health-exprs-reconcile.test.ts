// healthCheckExprs through the engine on the real API server: a custom object with no kstatus conditions is
// healthy when its expression says so, and failed when its `failed` expression is true.
import type { KubernetesObject } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { createNamespace, PatchStrategy, testObjectApi, uniqueName } from "../support/kube.js";
import { fluxKustomization, makeRepo } from "../support/repo-tree.js";

const group = `${uniqueName("health")}.example.com`;
let api: RawObjectApi;

beforeAll(async () => {
  api = testObjectApi();
  const crd = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `gadgets.${group}` },
    spec: {
      group,
      names: { kind: "Gadget", plural: "gadgets", singular: "gadget", listKind: "GadgetList" },
      scope: "Namespaced",
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: "object",
              properties: {
                spec: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
              },
            },
          },
        },
      ],
    },
  } as KubernetesObject;
  await api.patch(crd, undefined, undefined, "test-setup", true, PatchStrategy.ServerSideApply);
  for (let i = 0; i < 100; i++) {
    try {
      await api.list(`${group}/v1`, "Gadget", "default");
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

function tree(ns: string, expr: string): string {
  return makeRepo({
    "clusters/dev/apps.yaml": fluxKustomization({
      name: "apps",
      namespace: ns,
      path: "./apps",
      extra: `  targetNamespace: ${ns}
  wait: true
  timeout: 20s
  healthCheckExprs:
    - apiVersion: ${group}/v1
      kind: Gadget
${expr}`,
    }),
    "apps/gadget.yaml": `apiVersion: ${group}/v1\nkind: Gadget\nmetadata:\n  name: g\nspec:\n  size: 1\n`,
  });
}

async function setStatus(ns: string, status: Record<string, unknown>, afterMs: number): Promise<void> {
  await new Promise((r) => setTimeout(r, afterMs));
  await api.patch(
    {
      apiVersion: `${group}/v1`,
      kind: "Gadget",
      metadata: { name: "g", namespace: ns },
      status,
    } as KubernetesObject,
    undefined,
    undefined,
    "gadget-controller",
    undefined,
    PatchStrategy.MergePatch,
  );
}

describe("healthCheckExprs in a reconcile", () => {
  it("waits until `current` is true", async () => {
    const ns = await createNamespace(api, "health");
    const repo = tree(ns, "      current: has(status.phase) && status.phase == 'Running'\n");
    const [result] = await Promise.all([
      reconcileTree(api, { ...defaultReconcileOptions(repo, "clusters/dev"), scope: uniqueName("scope") }),
      setStatus(ns, { phase: "Running" }, 1500),
    ]);
    const k = result.kustomizations[0];
    expect(k?.status).toBe("Ready");
    expect(k?.healthMs).toBeGreaterThanOrEqual(1000);
  });

  it("fails when `failed` is true, with the expression in the message", async () => {
    const ns = await createNamespace(api, "health");
    const repo = tree(
      ns,
      "      failed: has(status.phase) && status.phase == 'Broken'\n      current: has(status.phase) && status.phase == 'Running'\n",
    );
    const [result] = await Promise.all([
      reconcileTree(api, { ...defaultReconcileOptions(repo, "clusters/dev"), scope: uniqueName("scope") }),
      setStatus(ns, { phase: "Broken" }, 1000),
    ]);
    const k = result.kustomizations[0];
    expect(k?.status).toBe("Failed");
    expect(k?.message).toContain(`Gadget/${ns}/g is failed: healthCheckExprs failed is true`);
  });

  it("an expression that does not parse fails the Kustomization naming the field", async () => {
    const ns = await createNamespace(api, "health");
    const repo = tree(ns, "      current: status.(\n");
    const result = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
    });
    const k = result.kustomizations[0];
    expect(k?.status).toBe("Failed");
    expect(k?.message).toContain("spec.healthCheckExprs[0].current: not a valid CEL expression");
    // Nothing was applied.
    await expect(
      api.read({ apiVersion: `${group}/v1`, kind: "Gadget", metadata: { name: "g", namespace: ns } }),
    ).rejects.toThrow();
  });
});
