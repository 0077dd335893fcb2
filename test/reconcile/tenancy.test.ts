// The tenancy rules on their own: which fields and namespaces a policy refuses, and which user is impersonated.
import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { resourceOf } from "../../src/cluster/access-review.js";
import { parseKustomization } from "../../src/flux/kustomization.js";
import {
  impersonatedUser,
  kustomizationViolations,
  namespaceRefusal,
  objectViolations,
  type TenancyPolicy,
  tenancyFromGrant,
  tenantSecretReader,
} from "../../src/reconcile/tenancy.js";

const tenant: TenancyPolicy = {
  tenant: "repository acme/app on cluster dev",
  namespaces: ["team-a", "team-a-*"],
  clusterScoped: false,
  crossNamespaceRefs: false,
};

describe("tenancy rules", () => {
  it.each([
    ["team-a", undefined],
    ["team-a-web", undefined],
    ["team-b", "namespace team-b is not allowed for repository acme/app on cluster dev"],
    ["kube-system", "namespace kube-system is not allowed for repository acme/app on cluster dev"],
  ])("namespace %s", (ns, expected) => {
    expect(namespaceRefusal(tenant, ns)).toBe(expected);
  });

  it("a platform grant (a plain repository entry) refuses nothing", () => {
    const platform = tenancyFromGrant(
      { repository: "acme/platform", clusterScoped: true, crossNamespaceRefs: true },
      "acme/platform",
      "dev",
    );
    expect(namespaceRefusal(platform, "kube-system")).toBeUndefined();
    expect(
      objectViolations(platform, { apiVersion: "v1", kind: "Namespace", metadata: { name: "x" } }, false),
    ).toEqual([]);
  });

  it("names every field a Kustomization breaks; a reference to the repository itself may cross namespaces", () => {
    const ks = parseKustomization(
      {
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: { name: "apps", namespace: "team-a" },
        spec: {
          interval: "5m",
          prune: true,
          targetNamespace: "kube-system",
          sourceRef: { kind: "GitRepository", name: "shared", namespace: "team-a-web" },
          dependsOn: [{ name: "infra", namespace: "flux-system" }],
          healthChecks: [{ kind: "Deployment", name: "x", namespace: "team-b" }],
        },
      } as KubernetesObject,
      "clusters/dev/apps.yaml",
    );
    expect(kustomizationViolations(tenant, ks, () => false).map((v) => v.field)).toEqual([
      "spec.targetNamespace",
      "spec.sourceRef.namespace",
      "spec.dependsOn[0].namespace",
      "spec.healthChecks[0].namespace",
    ]);
    expect(kustomizationViolations(tenant, ks, () => true).map((v) => v.field)).not.toContain(
      "spec.sourceRef.namespace",
    );
  });

  it("refuses cluster-scoped kinds, and kinds of unknown scope without a namespace", () => {
    const role = { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "r" } };
    expect(objectViolations(tenant, role, false)[0]?.reason).toBe(
      "cluster-scoped kind ClusterRole is not allowed for repository acme/app on cluster dev",
    );
    expect(
      objectViolations(tenant, { apiVersion: "x.io/v1", kind: "Thing", metadata: { name: "t" } }, undefined),
    ).toHaveLength(1);
    expect(
      objectViolations(
        tenant,
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "team-a" } },
        true,
      ),
    ).toEqual([]);
  });

  it("reads no Secret outside the namespaces", async () => {
    const read = tenantSecretReader(async () => ({ token: "t" }), tenant);
    await expect(read("team-a", "creds")).resolves.toEqual({ token: "t" });
    await expect(read("kube-system", "creds")).rejects.toThrow(
      "Secret kube-system/creds: namespace kube-system is not allowed for repository acme/app on cluster dev",
    );
  });

  it.each([
    [undefined, undefined, undefined],
    ["deployer", undefined, "system:serviceaccount:team-a:deployer"],
    [undefined, "tenant", "system:serviceaccount:team-a:tenant"],
    ["deployer", "tenant", "system:serviceaccount:team-a:deployer"],
  ])("serviceAccountName %s with default %s acts as %s", (name, fallback, user) => {
    expect(impersonatedUser({ ...tenant, defaultServiceAccount: fallback }, "team-a", name)).toBe(user);
  });

  it.each(["a:b", "Admin", "x\nImpersonate-Group: system:masters"])(
    "refuses the ServiceAccount name %j, which could name another user",
    (name) => {
      expect(() => impersonatedUser(tenant, "team-a", name)).toThrow(/not a valid ServiceAccount name/);
    },
  );

  it.each([
    ["Kustomization", "kustomizations"],
    ["HelmRelease", "helmreleases"],
    ["GitRepository", "gitrepositories"],
    ["OCIRepository", "ocirepositories"],
    ["ImagePolicy", "imagepolicies"],
  ])("RBAC resource of %s is %s", (kind, resource) => {
    expect(resourceOf(kind)).toBe(resource);
  });
});
