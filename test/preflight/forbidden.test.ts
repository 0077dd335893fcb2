// The API server's RBAC refusals, as it words them, turned into what was refused and the rule that allows it.
import { describe, expect, it } from "vitest";
import { explainForbiddenMessage, refusedPermission } from "../../src/preflight/index.js";

describe("refusedPermission", () => {
  it.each([
    [
      'configmaps "settings" is forbidden: User "system:serviceaccount:team:gitops" cannot patch resource "configmaps" in API group "" in the namespace "team"',
      {
        user: "system:serviceaccount:team:gitops",
        verb: "patch",
        resource: "configmaps",
        group: "",
        namespace: "team",
        name: "settings",
      },
    ],
    [
      'customresourcedefinitions.apiextensions.k8s.io is forbidden: User "bot" cannot create resource "customresourcedefinitions" in API group "apiextensions.k8s.io" at the cluster scope',
      { user: "bot", verb: "create", resource: "customresourcedefinitions", group: "apiextensions.k8s.io" },
    ],
    [
      'serviceaccounts "gitops" is forbidden: User "bot" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "team"',
      {
        user: "bot",
        verb: "impersonate",
        resource: "serviceaccounts",
        group: "",
        namespace: "team",
        name: "gitops",
      },
    ],
    [
      'users "system:serviceaccount:team:gitops" is forbidden: User "bot" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "team"',
      {
        user: "bot",
        verb: "impersonate",
        resource: "serviceaccounts",
        group: "",
        namespace: "team",
        name: "gitops",
      },
    ],
    [
      'deployments.apps "web" is forbidden: User "bot" cannot patch resource "deployments/scale" in API group "apps" in the namespace "apps"',
      {
        user: "bot",
        verb: "patch",
        resource: "deployments/scale",
        group: "apps",
        namespace: "apps",
        name: "web",
      },
    ],
  ])("%s", (message, expected) => {
    expect(refusedPermission(message)).toEqual(expected);
  });

  it("is undefined for a 403 that is not an RBAC refusal (admission, quota)", () => {
    expect(
      refusedPermission('pods "x" is forbidden: violates PodSecurity "restricted:latest"'),
    ).toBeUndefined();
    expect(explainForbiddenMessage("exceeded quota: compute, requested: pods=1")).toBeUndefined();
  });
});

describe("explainForbiddenMessage", () => {
  it("names verb, resource, group, namespace and the Role rule (for the kind: one refusal is rarely the only one) bound to the ServiceAccount", () => {
    expect(
      explainForbiddenMessage(
        'secrets "db" is forbidden: User "system:serviceaccount:team:gitops" cannot get resource "secrets" in API group "" in the namespace "team"',
      ),
    ).toBe(
      'RBAC refused system:serviceaccount:team:gitops: get secrets in the core API group in namespace team (secrets/db); allowed by rule {apiGroups: [""], resources: ["secrets"], verbs: ["get"]} in a Role (or ClusterRole) bound with a RoleBinding in namespace team to ServiceAccount team/gitops',
    );
  });
});
