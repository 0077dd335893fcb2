// The cluster path is Flux's root: plain objects there are applied and pruned under the root Kustomization's
// inventory; Flux's own install is left out with one note; kustomize's config files are never Flux objects.
import { describe, expect, it } from "vitest";
import { readInventory } from "../../src/cluster/ssa/inventory.js";
import { buildTree, defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { createNamespace, exists, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo, writeTree } from "../support/repo-tree.js";

const api = testObjectApi();

function classicLayout(rootName: string, ns: string) {
  return {
    "clusters/dev/flux-system/kustomization.yaml":
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - gotk-components.yaml\n  - gotk-sync.yaml\n",
    "clusters/dev/flux-system/gotk-components.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: flux-system
  labels:
    app.kubernetes.io/instance: flux-system
    app.kubernetes.io/part-of: flux
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kustomize-controller-${rootName}
  namespace: flux-system
  labels:
    app.kubernetes.io/instance: flux-system
    app.kubernetes.io/part-of: flux
spec:
  selector: {matchLabels: {app: kc}}
  template:
    metadata: {labels: {app: kc}}
    spec: {containers: [{name: manager, image: ghcr.io/fluxcd/kustomize-controller:v1.9.6}]}
`,
    "clusters/dev/flux-system/gotk-sync.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m
  url: https://github.com/example/fleet
  ref: {branch: main}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: ${rootName}
  namespace: flux-system
spec:
  interval: 10m
  path: ./clusters/dev
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
`,
    "clusters/dev/cluster-vars.yaml": configMap("cluster-vars", { region: "eu-1" }, ns),
    "clusters/dev/apps.yaml": fluxKustomization({
      name: "apps",
      namespace: ns,
      path: "./apps",
      extra: `  targetNamespace: ${ns}\n`,
    }),
    "apps/app.yaml": configMap("app", { a: "1" }),
  };
}

describe("the cluster path as Flux's root", () => {
  it("build: kustomize's config files are not Flux objects; Flux's install is one note; plain objects belong to the root", async () => {
    const ns = uniqueName("root");
    const rootName = uniqueName("fs");
    const repo = makeRepo(classicLayout(rootName, ns));
    const plan = await buildTree({ ...defaultReconcileOptions(repo, "clusters/dev") });
    expect(plan.notes.join("\n")).not.toContain("is not a Flux object");
    expect(plan.notes).toContain(
      "clusters/dev/flux-system/gotk-components.yaml: Flux's own install (2 objects) is not applied: gitops-bot reconciles in Flux's place (operator option fluxInstall: apply applies it)",
    );
    const root = plan.kustomizations.find((k) => k.ks.name === rootName);
    expect(root?.objects.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual(["ConfigMap/cluster-vars"]);
    expect(plan.kustomizations.map((k) => k.ks.name).sort()).toEqual(["apps", rootName].sort());
  });

  it("reconcile applies the root's objects under its own inventory and prunes them when they leave Git", async () => {
    const ns = await createNamespace(api, "root");
    const rootName = uniqueName("fs");
    const repo = makeRepo(classicLayout(rootName, ns));
    const opts = { ...defaultReconcileOptions(repo, "clusters/dev"), scope: uniqueName("scope") };
    const first = await reconcileTree(api, opts);
    expect(first.errors).toEqual([]);
    expect(first.kustomizations.find((k) => k.name === rootName)?.status).toBe("Ready");
    expect(await exists(api, "v1", "ConfigMap", "cluster-vars", ns)).toBe(true);
    expect(
      await exists(api, "apps/v1", "Deployment", `kustomize-controller-${rootName}`, "flux-system"),
    ).toBe(false);
    const inventory = await readInventory(api, { name: rootName, namespace: "flux-system" });
    expect(inventory?.entries.map((e) => e.id)).toEqual([`${ns}_cluster-vars__ConfigMap`]);

    writeTree(repo, {
      "clusters/dev/cluster-vars.yaml": configMap("cluster-vars-2", { region: "eu-2" }, ns),
    });
    const second = await reconcileTree(api, opts);
    expect(second.errors).toEqual([]);
    expect(await exists(api, "v1", "ConfigMap", "cluster-vars", ns)).toBe(false);
    expect(await exists(api, "v1", "ConfigMap", "cluster-vars-2", ns)).toBe(true);
  });

  it("without a bootstrap Kustomization the root is flux-system/flux-system, as bootstrap writes it", async () => {
    const ns = uniqueName("root");
    const repo = makeRepo({
      "clusters/dev/ns.yaml": `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`,
    });
    const plan = await buildTree({ ...defaultReconcileOptions(repo, "clusters/dev") });
    expect(plan.kustomizations.map((k) => `${k.ks.namespace}/${k.ks.name}`)).toEqual([
      "flux-system/flux-system",
    ]);
    expect(plan.kustomizations[0]?.ks.spec.prune).toBe(true);
  });
});
