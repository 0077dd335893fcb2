// Flux substitutes a Kustomization's whole build, the Flux objects in it too: a child Kustomization whose path
// names a variable of its parent is built from the substituted path.
import { describe, expect, it } from "vitest";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { createNamespace, exists, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

describe("post-build substitution of Flux objects", () => {
  it("a child Kustomization's path takes its parent's variable", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "subst");
    const repo = makeRepo({
      "clusters/dev/parent.yaml": fluxKustomization({
        name: "parent",
        namespace: ns,
        path: "./parent",
        extra: "  postBuild:\n    substitute:\n      env: staging\n",
      }),
      "parent/child.yaml": fluxKustomization({
        name: "child",
        namespace: ns,
        path: "./apps/${env}",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      "apps/staging/cm.yaml": configMap("from-staging", { a: "1" }),
    });
    const result = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
    });
    expect(result.errors).toEqual([]);
    expect(result.kustomizations.find((k) => k.name === "child")?.status).toBe("Ready");
    expect(await exists(api, "v1", "ConfigMap", "from-staging", ns)).toBe(true);
  });
});
