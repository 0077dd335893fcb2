// `gitops-bot build <cluster path>` prints what `flux build kustomization flux-system` prints: the Flux objects
// directly in the cluster path are the root's build even when no plain object is there (then no root inventory
// is planned). buildOutput lists them under the root: the bootstrap Kustomization when the path declares it,
// else flux-system/flux-system as bootstrap writes it.
import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { buildOutput } from "../../src/cli/build-output.js";
import { parseKustomization } from "../../src/flux/kustomization.js";
import type { TreePlan } from "../../src/reconcile/plan.js";

const ks = (name: string, path: string): KubernetesObject =>
  ({
    apiVersion: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    metadata: { name, namespace: "flux-system" },
    spec: { interval: "10m", path, prune: true, sourceRef: { kind: "GitRepository", name: "flux-system" } },
  }) as KubernetesObject;
const repo = {
  apiVersion: "source.toolkit.fluxcd.io/v1",
  kind: "GitRepository",
  metadata: { name: "flux-system", namespace: "flux-system" },
  spec: { interval: "1m", url: "https://example.com/fleet", ref: { branch: "main" } },
} as KubernetesObject;

const plan = (extra: Partial<TreePlan> & { rootFluxObjects?: KubernetesObject[] }): TreePlan => ({
  clusterPath: "clusters/staging",
  kustomizations: [],
  helmReleases: [],
  notes: [],
  ...extra,
});

const names = (p: TreePlan) =>
  p.kustomizations.map((k) => [
    `${k.ks.namespace}/${k.ks.name}`,
    k.objects.map((o) => `${o.kind}/${o.metadata?.name}`),
  ]);

describe("build of a cluster path that holds only Flux objects", () => {
  it("lists them under the bootstrap Kustomization, as flux build kustomization flux-system does", () => {
    const bootstrap = ks("flux-system", "./clusters/staging");
    const apps = ks("apps", "./apps");
    const out = buildOutput(plan({ rootFluxObjects: [repo, bootstrap, apps] }));
    expect(names(out)).toEqual([
      [
        "flux-system/flux-system",
        ["GitRepository/flux-system", "Kustomization/flux-system", "Kustomization/apps"],
      ],
    ]);
  });

  it("without a bootstrap Kustomization the root is flux-system/flux-system on the cluster path", () => {
    const out = buildOutput(plan({ rootFluxObjects: [ks("apps", "./apps")] }));
    expect(out.kustomizations[0]?.ks.spec.path).toBe("./clusters/staging");
    expect(names(out)).toEqual([["flux-system/flux-system", ["Kustomization/apps"]]]);
  });

  it("a planned root (plain objects there) is not listed twice", () => {
    const root = parseKustomization(ks("flux-system", "./clusters/staging"), "clusters/staging");
    const ns = { apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } } as KubernetesObject;
    const out = buildOutput(
      plan({
        kustomizations: [{ ks: root, objects: [ns], fluxObjects: [repo] }],
        rootFluxObjects: [repo],
      }),
    );
    expect(names(out)).toEqual([
      ["flux-system/flux-system", ["Namespace/team", "GitRepository/flux-system"]],
    ]);
  });

  it("a plan that does not say the root's Flux objects prints what it did before", () => {
    expect(buildOutput(plan({})).kustomizations).toEqual([]);
  });
});
