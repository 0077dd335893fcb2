// What a tree needs, derived from its plan: pure, with kinds resolved by a table instead of discovery.
import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parseHelmRelease } from "../../src/flux/helm-release.js";
import { parseKustomization } from "../../src/flux/kustomization.js";
import { parseSource } from "../../src/flux/sources.js";
import { describePermission, type Requirement, treeRequirements } from "../../src/preflight/index.js";
import { crdKinds } from "../../src/preflight/kinds.js";
import type { TreePlan } from "../../src/reconcile/plan.js";

const kinds: Record<string, { resource: string; namespaced: boolean }> = {
  "v1/ConfigMap": { resource: "configmaps", namespaced: true },
  "v1/Namespace": { resource: "namespaces", namespaced: false },
  "apps/v1/Deployment": { resource: "deployments", namespaced: true },
  "rbac.authorization.k8s.io/v1/ClusterRole": { resource: "clusterroles", namespaced: false },
};
const kindOf = (apiVersion: string, kind: string) => {
  const info = kinds[`${apiVersion}/${kind}`];
  if (!info) throw new Error(`unknown kind ${apiVersion}/${kind}`);
  return info;
};

function ks(name: string, namespace: string, spec: Record<string, unknown>) {
  return parseKustomization(
    {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name, namespace },
      spec: {
        interval: "10m",
        prune: true,
        sourceRef: { kind: "GitRepository", name: "flux-system" },
        ...spec,
      },
    } as KubernetesObject,
    `clusters/dev/${name}.yaml`,
  );
}

const obj = (apiVersion: string, kind: string, name: string, namespace?: string): KubernetesObject => ({
  apiVersion,
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
});

function lines(reqs: Requirement[]): string[] {
  return reqs.map((r) => `${describePermission(r)} — ${r.reasons.join("; ")}`).sort();
}

describe("treeRequirements", () => {
  it("a platform Kustomization: each kind per namespace with the verbs the engine uses, its inventory, substituteFrom", () => {
    const plan: TreePlan = {
      clusterPath: "clusters/dev",
      notes: [],
      helmReleases: [],
      kustomizations: [
        {
          ks: ks("apps", "flux-system", {
            targetNamespace: "web",
            prune: false,
            postBuild: { substituteFrom: [{ kind: "ConfigMap", name: "vars" }] },
          }),
          objects: [
            obj("v1", "ConfigMap", "a"),
            obj("v1", "ConfigMap", "b", "other"),
            obj("apps/v1", "Deployment", "web"),
            obj("v1", "Namespace", "web"),
          ],
        },
      ],
    };
    const { requirements, notes } = treeRequirements({
      plan,
      sources: [],
      selfSourceNames: ["flux-system"],
      kindOf,
    });
    expect(notes).toEqual([]);
    const inv =
      "Kustomization flux-system/apps keeps its inventory in ConfigMap flux-system/gitops-bot-inventory-apps";
    expect(lines(requirements)).toEqual(
      [
        "list configmaps (cluster-wide) — finding the inventories of Kustomizations removed from Git (to prune them)",
        `get namespaces/flux-system in namespace flux-system — ${inv}`,
        `get configmaps/gitops-bot-inventory-apps in namespace flux-system — ${inv}`,
        `patch configmaps/gitops-bot-inventory-apps in namespace flux-system — ${inv}`,
        `create configmaps in namespace flux-system — ${inv}`,
        "get configmaps/vars in namespace flux-system — Kustomization flux-system/apps substitutes variables from ConfigMap flux-system/vars (spec.postBuild.substituteFrom[0])",
        ...["get", "list", "create", "patch"].flatMap((v) => [
          `${v} configmaps in namespace web — Kustomization flux-system/apps applies 1 ConfigMap`,
          `${v} configmaps in namespace other — Kustomization flux-system/apps applies 1 ConfigMap`,
          `${v} deployments (API group apps) in namespace web — Kustomization flux-system/apps applies 1 Deployment`,
          `${v} namespaces (cluster-wide) — Kustomization flux-system/apps applies 1 Namespace`,
        ]),
      ].sort(),
    );
  });

  it("a tenant: objects, reads and Helm storage as its ServiceAccount; the bot impersonates it and reads source credentials", () => {
    const hr = parseHelmRelease(
      {
        apiVersion: "helm.toolkit.fluxcd.io/v2",
        kind: "HelmRelease",
        metadata: { name: "redis", namespace: "team" },
        spec: {
          interval: "10m",
          chart: { spec: { chart: "redis", sourceRef: { kind: "HelmRepository", name: "charts" } } },
          valuesFrom: [{ kind: "Secret", name: "redis-values" }],
        },
      } as KubernetesObject,
      "apps/redis.yaml",
    );
    const source = parseSource(
      {
        apiVersion: "source.toolkit.fluxcd.io/v1",
        kind: "HelmRepository",
        metadata: { name: "charts", namespace: "team" },
        spec: { url: "https://charts.example", interval: "1h", secretRef: { name: "charts-auth" } },
      } as KubernetesObject,
      "apps/charts.yaml",
    );
    const plan: TreePlan = {
      clusterPath: "clusters/team",
      notes: [],
      kustomizations: [{ ks: ks("apps", "team", {}), objects: [obj("v1", "ConfigMap", "a", "team")] }],
      helmReleases: [{ hr, parent: "team/apps" }],
    };
    const tenancy = {
      tenant: "repository acme/team on cluster dev",
      namespaces: ["team"],
      clusterScoped: false,
      crossNamespaceRefs: false,
      defaultServiceAccount: "gitops",
    };
    const { requirements, notes } = treeRequirements({
      plan,
      sources: [source],
      selfSourceNames: ["flux-system"],
      kindOf,
      tenancy,
    });
    const all = lines(requirements);
    const sa = "system:serviceaccount:team:gitops";
    expect(all).toContain(
      `impersonate serviceaccounts/gitops in namespace team — Kustomization team/apps acts as ${sa}; HelmRelease team/redis acts as ${sa}`,
    );
    expect(all).toContain(
      `delete configmaps in namespace team as ${sa} — Kustomization team/apps applies 1 ConfigMap (prune: true)`,
    );
    expect(all).toContain(
      `get secrets/redis-values in namespace team as ${sa} — HelmRelease team/redis reads values from Secret team/redis-values (spec.valuesFrom[0])`,
    );
    expect(all).toContain(
      `update secrets in namespace team as ${sa} — HelmRelease team/redis stores Helm release redis as Secrets in team`,
    );
    expect(all).toContain(
      `patch helmreleases/redis (API group helm.toolkit.fluxcd.io) in namespace team as ${sa} — Kustomization team/apps declares HelmRelease team/redis`,
    );
    // Source credentials are read with the bot's own identity, as Flux's source-controller does.
    expect(all).toContain(
      "get secrets/charts-auth in namespace team — HelmRepository team/charts reads credentials from Secret team/charts-auth (spec.secretRef)",
    );
    // The inventory is the bot's, never the tenant's.
    expect(all.filter((l) => l.includes("gitops-bot-inventory-apps")).every((l) => !l.includes(" as "))).toBe(
      true,
    );
    expect(notes).toEqual([
      "HelmRelease team/redis: the objects its chart renders are known only when helm renders it; the API server checks them at install",
    ]);
  });

  it("a failed build is a note, not a guess", () => {
    const plan: TreePlan = {
      clusterPath: "clusters/dev",
      notes: [],
      helmReleases: [],
      kustomizations: [
        { ks: ks("broken", "flux-system", {}), objects: [], buildError: "kustomize build failed: boom" },
      ],
    };
    const { requirements, notes } = treeRequirements({ plan, sources: [], selfSourceNames: [], kindOf });
    expect(requirements).toHaveLength(1);
    expect(notes).toEqual([
      "Kustomization flux-system/broken did not build (kustomize build failed: boom); its objects are not checked",
    ]);
  });
});

describe("crdKinds", () => {
  it("takes resource names and scopes from the tree's own CRDs", () => {
    const crd = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "gizmos.example.com" },
      spec: { group: "example.com", scope: "Cluster", names: { kind: "Gizmo", plural: "gizmos" } },
    } as KubernetesObject;
    expect([...crdKinds([crd])]).toEqual([["example.com/Gizmo", { resource: "gizmos", namespaced: false }]]);
  });
});
