// `gitops-bot kubeconfig` and `gitops-bot check` on the real API server, with the shipped cluster-access
// ServiceAccount's own token: the check passes for a sample tree; with a reduced role it lists exactly the
// missing permissions and why each is needed; a 403 is explained with the rule that allows it, and that rule
// really does.
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, inject, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { main } from "../../src/cli/main.js";
import { loadKubeConfig, makeObjectApi } from "../../src/cluster/kube-client.js";
import { explainForbidden, policyRuleFor, refusedPermission } from "../../src/preflight/index.js";
import { buildIsolated, deployDir, kubectlApply } from "../deploy/kustomize-apply.js";
import { cli } from "../support/cli.js";
import { createNamespace, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

const admin = () => inject("kubeconfigPath");

/** Applies deploy/cluster-access (or its tenant variant) in its own namespace; returns the account's name. */
function applyClusterAccess(path: string): { namespace: string; serviceAccount: string; suffix: string } {
  const namespace = uniqueName("access");
  const suffix = namespace.slice(-8);
  const applied = kubectlApply(buildIsolated(path, { namespace, suffix }));
  if (applied.code !== 0) throw new Error(applied.stderr);
  return { namespace, serviceAccount: `gitops-bot-${suffix}`, suffix };
}

async function kubeconfigFor(namespace: string, serviceAccount: string, dir: string): Promise<string> {
  const file = join(dir, `${serviceAccount}.kubeconfig`);
  const made = await cli([
    "kubeconfig",
    "--namespace",
    namespace,
    "--service-account",
    serviceAccount,
    "--output",
    file,
    "--kubeconfig",
    admin(),
  ]);
  if (made.code !== 0) throw new Error(made.err);
  return file;
}

function crd(group: string, kind: string): string {
  const plural = `${kind.toLowerCase()}s`;
  return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${plural}.${group}
spec:
  group: ${group}
  scope: Namespaced
  names: {kind: ${kind}, plural: ${plural}, singular: ${kind.toLowerCase()}, listKind: ${kind}List}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`;
}

const deployment = (name: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec: {containers: [{name: app, image: "registry.example/app:\${tag}"}]}
`;

/** A platform tree: infra-controllers applies 3 CRDs; apps applies a ConfigMap and a Deployment with variables from a Secret. */
function platformRepo(ns: string, group: string): string {
  return makeRepo({
    "clusters/dev/infra.yaml": fluxKustomization({
      name: "infra-controllers",
      namespace: ns,
      path: "./infra",
    }),
    "clusters/dev/apps.yaml": fluxKustomization({
      name: "apps",
      namespace: ns,
      path: "./apps",
      extra: `  targetNamespace: ${ns}\n  dependsOn: [{name: infra-controllers}]\n  postBuild:\n    substituteFrom: [{kind: Secret, name: app-vars}]\n`,
    }),
    "infra/widgets.yaml": crd(group, "Widget"),
    "infra/gadgets.yaml": crd(group, "Gadget"),
    "infra/gizmos.yaml": crd(group, "Gizmo"),
    "apps/cm.yaml": configMap("settings", { color: "blue" }),
    "apps/web.yaml": deployment("web"),
  });
}

/** The first line of every missing permission the check printed. */
function missing(out: string): string[] {
  return out
    .split("\n")
    .filter((l) => l.startsWith("✗ ") && l.includes(" — "))
    .sort();
}

describe("gitops-bot kubeconfig", () => {
  it("writes a 0600 kubeconfig with a TokenRequest token for the shipped ServiceAccount", async () => {
    const access = applyClusterAccess("cluster-access");
    const dir = makeRepo({});
    const file = await kubeconfigFor(access.namespace, access.serviceAccount, dir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // Written again over a readable file (a rotation): narrowed to 0600, and the token never on stderr.
    chmodSync(file, 0o644);
    let err = "";
    const again = await main(
      [
        "kubeconfig",
        "-n",
        access.namespace,
        "--service-account",
        access.serviceAccount,
        "--output",
        file,
        "--kubeconfig",
        admin(),
      ],
      { out: { write: () => true }, err: { write: (s: string) => (err += s) } },
    );
    expect(again).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = loadKubeConfig({ kubeconfig: file }).getCurrentUser()?.token ?? "";
    expect(token.length).toBeGreaterThan(100);
    expect(err).not.toContain(token.slice(0, 40));
    expect(err).toMatch(/^wrote .* for ServiceAccount .*\ntoken expires \d{4}-\d\d-\d\dT/);
    const kc = loadKubeConfig({ kubeconfig: file });
    expect(kc.getCurrentCluster()?.server).toBe(
      loadKubeConfig({ kubeconfig: admin() }).getCurrentCluster()?.server,
    );
    expect(kc.getCurrentUser()?.token).toMatch(/^eyJ/);
    // The token authenticates as the ServiceAccount.
    const api = makeObjectApi(kc);
    const review = await api.create<KubernetesObject & { status?: { userInfo?: { username?: string } } }>({
      apiVersion: "authentication.k8s.io/v1",
      kind: "SelfSubjectReview",
    } as KubernetesObject);
    expect(review.status?.userInfo?.username).toBe(
      `system:serviceaccount:${access.namespace}:${access.serviceAccount}`,
    );
  });

  it("names the ServiceAccount when it does not exist, and refuses a duration below 10m", async () => {
    const missingSa = await cli([
      "kubeconfig",
      "-n",
      "default",
      "--service-account",
      "nobody-here",
      "--kubeconfig",
      admin(),
    ]);
    expect(missingSa.code).toBe(2);
    expect(missingSa.err).toContain("ServiceAccount/default/nobody-here: cannot request a token: not found");
    expect(missingSa.out).toBe("");
    const short = await cli(["kubeconfig", "-n", "default", "--service-account", "x", "--duration", "1m"]);
    expect(short.code).toBe(2);
    expect(short.err).toContain("--duration must be at least 10m");
  });
});

describe("gitops-bot check", () => {
  it("passes with the shipped cluster-access account for a platform tree, naming versions", {
    timeout: 60_000,
  }, async () => {
    const access = applyClusterAccess("cluster-access");
    const ns = await createNamespace(testObjectApi(), "check");
    const repo = platformRepo(ns, `${ns}.example.com`);
    const kubeconfig = await kubeconfigFor(access.namespace, access.serviceAccount, repo);
    const result = await cli(["check", repo, "clusters/dev", "--kubeconfig", kubeconfig]);
    expect(result.err).toBe("");
    expect(result.out).toMatch(/✓ kustomize v5\.8\.1/);
    expect(result.out).toMatch(/✓ helm v4\.3\.1/);
    expect(result.out).toMatch(/✓ reachable: Kubernetes v1\.35\.4/);
    expect(result.out).toMatch(/✓ (\d+) of \1 permissions allowed/);
    expect(result.out).toContain("✔ all checks passed");
    expect(result.code).toBe(0);

    // What the check passed is enough for a real reconcile with that identity: CRDs, substitution, inventories.
    await testObjectApi().create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "app-vars", namespace: ns },
      stringData: { tag: "1.2.3" },
    } as KubernetesObject);
    const applied = await cli([
      "reconcile",
      "clusters/dev",
      "--repo",
      repo,
      "--kubeconfig",
      kubeconfig,
      "--scope",
      uniqueName("scope"),
      "--no-wait",
      "-q",
    ]);
    expect(applied.err).toBe("");
    expect(applied.code).toBe(0);
    const web = await testObjectApi().read<
      KubernetesObject & { spec: { template: { spec: { containers: { image: string }[] } } } }
    >({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: ns },
    });
    expect(web.spec.template.spec.containers[0]?.image).toBe("registry.example/app:1.2.3");
  });

  it("with a reduced role lists exactly what is missing and why", { timeout: 60_000 }, async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "check");
    const group = `${ns}.example.com`;
    const repo = platformRepo(ns, group);
    // The engine's own ClusterRole as shipped, but instead of apply-anything: ConfigMaps, and Deployments
    // without delete; no CRDs, no Secrets.
    const reduced = uniqueName("reduced");
    await api.create({
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: reduced, namespace: ns },
    });
    await api.create({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: reduced },
      rules: [
        { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "create", "patch", "delete"] },
        { apiGroups: [""], resources: ["namespaces"], verbs: ["get"] },
        { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "create", "patch"] },
      ],
    } as KubernetesObject);
    await api.create({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: reduced },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: reduced },
      subjects: [{ kind: "ServiceAccount", name: reduced, namespace: ns }],
    } as KubernetesObject);
    const kubeconfig = await kubeconfigFor(ns, reduced, repo);

    const result = await cli(["check", repo, "clusters/dev", "--kubeconfig", kubeconfig]);
    expect(result.code).toBe(1);
    const crds = `Kustomization ${ns}/infra-controllers applies 3 CRDs`;
    expect(missing(result.out)).toEqual(
      [
        `✗ create customresourcedefinitions (API group apiextensions.k8s.io) (cluster-wide) — ${crds}`,
        `✗ delete customresourcedefinitions (API group apiextensions.k8s.io) (cluster-wide) — ${crds} (prune: true)`,
        `✗ get customresourcedefinitions (API group apiextensions.k8s.io) (cluster-wide) — ${crds}`,
        `✗ list customresourcedefinitions (API group apiextensions.k8s.io) (cluster-wide) — ${crds}`,
        `✗ patch customresourcedefinitions (API group apiextensions.k8s.io) (cluster-wide) — ${crds}`,
        `✗ delete deployments (API group apps) in namespace ${ns} — Kustomization ${ns}/apps applies 1 Deployment (prune: true)`,
        `✗ get secrets/app-vars in namespace ${ns} — Kustomization ${ns}/apps substitutes variables from Secret ${ns}/app-vars (spec.postBuild.substituteFrom[0])`,
      ].sort(),
    );
    // Each comes with the rule that allows it.
    expect(result.out).toContain(
      `allow with: rule {apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["create"]} in a ClusterRole bound with a ClusterRoleBinding`,
    );
    expect(result.out).toContain(
      `allow with: rule {apiGroups: [""], resources: ["secrets"], resourceNames: ["app-vars"], verbs: ["get"]} in a Role (or ClusterRole) bound with a RoleBinding in namespace ${ns}`,
    );
    expect(result.out).toContain("✗ some checks failed");

    // A real 403 for the same identity is explained: verb, resource, scope and the rule.
    const as = makeObjectApi(loadKubeConfig({ kubeconfig }));
    const refusedCrd = await as
      .create({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        ...parseAllDocuments(crd(group, "Widget"))[0]?.toJS(),
      } as KubernetesObject)
      .catch((e: unknown) => e);
    expect(explainForbidden(refusedCrd)).toBe(
      `RBAC refused system:serviceaccount:${ns}:${reduced}: create customresourcedefinitions in API group apiextensions.k8s.io cluster-wide; allowed by rule {apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["create"]} in a ClusterRole bound with a ClusterRoleBinding to ServiceAccount ${ns}/${reduced}`,
    );

    // …and the rule it names does allow the request once bound.
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "app-vars", namespace: ns },
      stringData: { tag: "1.0" },
    };
    const refusedSecret = await as.create(secret as KubernetesObject).catch((e: unknown) => e);
    const explained = explainForbidden(refusedSecret);
    expect(explained).toContain(`create secrets in the core API group in namespace ${ns}`);
    const permission = refusedPermission((refusedSecret as { body: { message: string } }).body.message);
    expect(permission).toMatchObject({ verb: "create", resource: "secrets", group: "", namespace: ns });
    if (!permission) throw new Error("no permission parsed");
    await api.create({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "explained", namespace: ns },
      rules: [policyRuleFor(permission)],
    } as KubernetesObject);
    await api.create({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "explained", namespace: ns },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "explained" },
      subjects: [{ kind: "ServiceAccount", name: reduced, namespace: ns }],
    } as KubernetesObject);
    await expect(as.create(secret as KubernetesObject)).resolves.toMatchObject({
      metadata: { name: "app-vars" },
    });
    await api.delete({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: reduced },
    });
    await api.delete({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: reduced },
    });
  });

  it("passes for a tenant with the tenant variant, impersonating the tenant's ServiceAccount (--config, --repository)", {
    timeout: 60_000,
  }, async () => {
    const api = testObjectApi();
    const access = applyClusterAccess("cluster-access/tenant");
    const tenantNs = await createNamespace(api, "tenant");
    // The per-namespace binding, as docs/deploy.md says to apply it, named after this test's suffix.
    const binding = parseAllDocuments(
      readFileSync(join(deployDir, "cluster-access/tenant/tenant-namespace-binding.yaml"), "utf8"),
    )[0]?.toJS() as KubernetesObject & {
      roleRef: { name: string };
      subjects: { name: string; namespace: string }[];
    };
    binding.metadata = { ...binding.metadata, namespace: tenantNs };
    binding.roleRef.name = `${binding.roleRef.name}-${access.suffix}`;
    binding.subjects = [
      { ...binding.subjects[0], name: access.serviceAccount, namespace: access.namespace } as never,
    ];
    expect(kubectlApply(JSON.stringify(binding)).code).toBe(0);
    // The tenant's own account, with admin in its namespace only.
    await api.create({
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "gitops", namespace: tenantNs },
    });
    await api.create({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "gitops-admin", namespace: tenantNs },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "admin" },
      subjects: [{ kind: "ServiceAccount", name: "gitops", namespace: tenantNs }],
    } as KubernetesObject);

    const repo = makeRepo({
      "clusters/team/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: tenantNs,
        path: "./apps",
        extra: `  targetNamespace: ${tenantNs}\n  postBuild:\n    substituteFrom: [{kind: ConfigMap, name: vars}]\n`,
      }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
      "apps/web.yaml": deployment("web"),
    });
    const kubeconfig = await kubeconfigFor(access.namespace, access.serviceAccount, repo);
    const operatorFile = join(repo, "gitops-bot.yaml");
    writeFileSync(
      operatorFile,
      `clusters:\n  - name: dev\n    kubeconfig: ${kubeconfig}\n    repositories:\n      - repository: acme/team\n        namespaces: ["${tenantNs}"]\n        clusterScoped: false\n        serviceAccountName: gitops\n`,
    );
    const result = await cli([
      "check",
      repo,
      "clusters/team",
      "--config",
      operatorFile,
      "--repository",
      "acme/team",
    ]);
    expect(result.err).toBe("");
    expect(result.out).toContain("◎ cluster dev (");
    expect(result.out).toContain("✔ all checks passed");
    expect(result.code).toBe(0);

    // Without the namespace binding the bot may neither impersonate the tenant nor keep its inventory there.
    await api.delete({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: binding.metadata.name, namespace: tenantNs },
    });
    const unbound = await cli([
      "check",
      repo,
      "clusters/team",
      "--config",
      operatorFile,
      "--repository",
      "acme/team",
    ]);
    expect(unbound.code).toBe(1);
    expect(missing(unbound.out)).toContain(
      `✗ impersonate serviceaccounts/gitops in namespace ${tenantNs} — Kustomization ${tenantNs}/apps acts as system:serviceaccount:${tenantNs}:gitops`,
    );
    expect(
      missing(unbound.out).some((l) => l.startsWith(`✗ create configmaps in namespace ${tenantNs} — `)),
    ).toBe(true);
    // What the tenant's account may do cannot be asked without impersonating it: one line says so.
    expect(unbound.out).toMatch(
      new RegExp(
        `✗ 11 permissions of system:serviceaccount:${tenantNs}:gitops not checked — .*cannot impersonate`,
      ),
    );
    expect(unbound.out).not.toContain(`get deployments (API group apps) in namespace ${tenantNs} as`);
  });
});
