// Multi-tenancy (Flux's lockdown) and diff scope, attacked through the engine and through probot.receive with
// fork pull requests, against the real API server with RBAC on: what a repository may touch is what its grant
// and its ServiceAccount's RBAC allow, and a dry-run never shows the live content of an object it does not own.
import { afterEach, describe, expect, inject, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { TAKEOVER_REASON } from "../../src/cluster/ssa/apply.js";
import { readInventory } from "../../src/cluster/ssa/inventory.js";
import type { KustomizationResult, RunResult } from "../../src/reconcile/result.js";
import { defaultReconcileOptions, type ReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import type { TenancyPolicy } from "../../src/reconcile/tenancy.js";
import {
  finalStatuses,
  INSTALLATION_ID,
  OWNER,
  pullRequestExample,
  REPO,
  randomSha,
  replyRepoConfig,
  replyTarball,
  repoConfigYaml,
  startBot,
} from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { helmReleaseYaml, helmRepositoryYaml, startHelmRepo } from "../support/helm-repo.js";
import { createNamespace, exists, testObjectApi, uniqueName } from "../support/kube.js";
import { receive } from "../support/probot.js";
import { configMap, fluxKustomization, makeRepo, writeTree } from "../support/repo-tree.js";

let github: GitHubMock | undefined;
afterEach(() => {
  github?.cleanup();
  github = undefined;
});

const TENANT = "repository acme/app on cluster dev";

function policy(overrides: Partial<TenancyPolicy> = {}): TenancyPolicy {
  return { tenant: TENANT, clusterScoped: false, crossNamespaceRefs: false, ...overrides };
}

function run(api: RawObjectApi, repo: string, scope: string, overrides: Partial<ReconcileOptions> = {}) {
  return reconcileTree(api, { ...defaultReconcileOptions(repo, "clusters/dev"), scope, ...overrides });
}

function ks(result: RunResult, name: string): KustomizationResult {
  const found = result.kustomizations.find((k) => k.name === name);
  if (!found) throw new Error(`no result for ${name}: ${JSON.stringify(result, null, 2)}`);
  return found;
}

const clusterRole = (name: string) => `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: ${name}
rules: []
`;

/** A ServiceAccount whose RBAC allows everything in its own namespace and nothing anywhere else. */
async function tenantServiceAccount(api: RawObjectApi, namespace: string, name: string): Promise<void> {
  await api.create({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace } });
  await api.create({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: `${name}-all`, namespace },
    rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }],
  } as Parameters<RawObjectApi["create"]>[0]);
  await api.create({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: `${name}-all`, namespace },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: `${name}-all` },
    subjects: [{ kind: "ServiceAccount", name, namespace }],
  } as Parameters<RawObjectApi["create"]>[0]);
}

describe("tenancy: namespaces, cluster-scoped kinds, cross-namespace references", () => {
  it("refuses objects, targetNamespace and substituteFrom outside the allowed namespaces; applies nothing of them", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "tenant");
    const other = await createNamespace(api, "other");
    const canary = uniqueName("cm");
    const repo = makeRepo({
      // A rendered object that names another namespace itself.
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: ns, path: "./apps" }),
      "apps/ok.yaml": configMap("ok", { a: "1" }, ns),
      "apps/escape.yaml": configMap(canary, { a: "1" }, "kube-system"),
      // A Kustomization aimed at another namespace.
      "clusters/dev/aimed.yaml": fluxKustomization({
        name: "aimed",
        namespace: ns,
        path: "./aimed",
        extra: `  targetNamespace: ${other}\n`,
      }),
      "aimed/cm.yaml": configMap("aimed", { a: "1" }),
      // A Kustomization living in another namespace, reading its variables there.
      "clusters/dev/foreign.yaml": fluxKustomization({
        name: "foreign",
        namespace: other,
        path: "./aimed",
        extra: "  postBuild:\n    substituteFrom:\n      - kind: Secret\n        name: vars\n",
      }),
    });
    const result = await run(api, repo, uniqueName("scope"), { tenancy: policy({ namespaces: [ns] }) });

    expect(ks(result, "apps").status).toBe("Failed");
    expect(ks(result, "apps").message).toBe(
      `Kustomization/${ns}/apps: ConfigMap/kube-system/${canary}: metadata.namespace: namespace kube-system is not allowed for ${TENANT} (built from ./apps)`,
    );
    expect(ks(result, "aimed").message).toBe(
      `clusters/dev/aimed.yaml: Kustomization/${ns}/aimed: spec.targetNamespace: namespace ${other} is not allowed for ${TENANT}`,
    );
    expect(ks(result, "foreign").message).toBe(
      `clusters/dev/foreign.yaml: Kustomization/${other}/foreign: metadata.namespace: namespace ${other} is not allowed for ${TENANT}`,
    );
    expect(await exists(api, "v1", "ConfigMap", "ok", ns)).toBe(false);
    expect(await exists(api, "v1", "ConfigMap", canary, "kube-system")).toBe(false);
    expect(await exists(api, "v1", "ConfigMap", "aimed", other)).toBe(false);
  });

  it("refuses cluster-scoped kinds unless the grant allows them, and Namespaces outside the allowed ones", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "tenant");
    const role = uniqueName("tenant-role");
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: ns, path: "./apps" }),
      "apps/role.yaml": clusterRole(role),
    });
    const refused = await run(api, repo, uniqueName("scope"), { tenancy: policy({ namespaces: [ns] }) });
    expect(ks(refused, "apps").message).toContain(
      `ClusterRole/${role}: kind: cluster-scoped kind ClusterRole is not allowed for ${TENANT}`,
    );
    expect(await exists(api, "rbac.authorization.k8s.io/v1", "ClusterRole", role)).toBe(false);

    writeTree(repo, {
      "apps/role.yaml": null,
      "apps/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kube-system\n",
    });
    const namespace = await run(api, repo, uniqueName("scope"), {
      tenancy: policy({ namespaces: [ns], clusterScoped: true }),
    });
    expect(ks(namespace, "apps").message).toContain(
      `Namespace/kube-system: metadata.name: namespace kube-system is not allowed for ${TENANT}`,
    );

    writeTree(repo, { "apps/ns.yaml": null, "apps/role.yaml": clusterRole(role) });
    const allowed = await run(api, repo, uniqueName("scope"), {
      tenancy: policy({ namespaces: [ns], clusterScoped: true }),
    });
    expect(ks(allowed, "apps").status).toBe("Ready");
    expect(await exists(api, "rbac.authorization.k8s.io/v1", "ClusterRole", role)).toBe(true);
    await api.delete({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: role },
    });
  });

  it("refuses cross-namespace sourceRef and dependsOn unless the grant allows them, before fetching anything", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "tenant");
    const shared = await createNamespace(api, "shared");
    const repo = makeRepo({
      "clusters/dev/source.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: shared
  namespace: ${shared}
spec:
  interval: 1m
  url: http://127.0.0.1:9/closed.git
  ref:
    branch: main
`,
      "clusters/dev/base.yaml": fluxKustomization({ name: "base", namespace: shared, path: "./apps" }),
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./",
        extra: `  dependsOn:\n    - name: base\n      namespace: ${shared}\n`,
      }).replace("    name: flux-system\n", `    name: shared\n    namespace: ${shared}\n`),
      "apps/cm.yaml": configMap("a", { a: "1" }, shared),
    });
    const tenancy = policy({ namespaces: [ns, shared] });
    const scope = uniqueName("scope");
    const refused = await run(api, repo, scope, { tenancy });
    expect(ks(refused, "apps").message).toBe(
      `clusters/dev/apps.yaml: Kustomization/${ns}/apps: spec.sourceRef.namespace: cross-namespace reference to GitRepository/${shared}/shared is not allowed for ${TENANT}; spec.dependsOn[0].namespace: cross-namespace reference to Kustomization/${shared}/base is not allowed for ${TENANT}`,
    );
    // Refused before the fetch: the source was never tried.
    expect(refused.sources ?? []).toEqual([]);

    const allowed = await run(api, repo, scope, {
      tenancy: { ...tenancy, crossNamespaceRefs: true },
      dryRun: true,
    });
    expect(ks(allowed, "apps").message).not.toContain("cross-namespace");
    expect(ks(allowed, "apps").message).toContain(`GitRepository/${shared}/shared`);
  });

  it("reads no source credentials from a namespace the repository may not use", async () => {
    const api = testObjectApi();
    const secretName = uniqueName("creds");
    const repo = makeRepo({
      "clusters/dev/source.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: stolen
  namespace: kube-system
spec:
  interval: 1m
  url: http://127.0.0.1:9/x.git
  secretRef:
    name: ${secretName}
  ref:
    branch: main
`,
    });
    const result = await run(api, repo, uniqueName("scope"), { tenancy: policy({ namespaces: ["team-*"] }) });
    expect(result.errors).toEqual([
      `clusters/dev/source.yaml: GitRepository/kube-system/stolen: metadata.namespace: namespace kube-system is not allowed for ${TENANT}`,
    ]);
  });
});

describe("tenancy: ServiceAccount impersonation with real RBAC", () => {
  it("a tenant Kustomization whose ServiceAccount may only use its namespace fails cleanly elsewhere and applies nothing there; in its own namespace it applies, waits and prunes as the ServiceAccount", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "tenant");
    const other = await createNamespace(api, "victim");
    await tenantServiceAccount(api, ns, "deployer");
    const files = (target: string) => ({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${target}\n  serviceAccountName: deployer\n  wait: true\n`,
      }),
      "apps/a.yaml": configMap("a", { a: "1" }),
      "apps/b.yaml": configMap("b", { b: "2" }),
    });
    const repo = makeRepo(files(other));
    const scope = uniqueName("scope");
    // A platform grant: no namespace list, so RBAC alone decides.
    const platform = policy({ clusterScoped: true, crossNamespaceRefs: true });

    const preview = await run(api, repo, scope, { tenancy: platform, dryRun: true, withDiff: true });
    expect(ks(preview, "apps").status).toBe("Failed");
    const elsewhere = await run(api, repo, scope, { tenancy: platform });
    const failed = ks(elsewhere, "apps");
    expect(failed.status).toBe("Failed");
    expect(failed.message).toMatch(
      new RegExp(
        `ConfigMap/${other}/[ab] (dry-run|get) failed: .*system:serviceaccount:${ns}:deployer.* forbidden|forbidden.*system:serviceaccount:${ns}:deployer`,
      ),
    );
    // The status says which verb, resource and namespace was refused and which RBAC rule would allow it.
    expect(failed.message).toMatch(
      new RegExp(
        `RBAC refused system:serviceaccount:${ns}:deployer: \\w+ configmaps in the core API group in namespace ${other}.*; allowed by `,
      ),
    );
    expect(await exists(api, "v1", "ConfigMap", "a", other)).toBe(false);
    expect(await exists(api, "v1", "ConfigMap", "b", other)).toBe(false);

    writeTree(repo, files(ns));
    const home = await run(api, repo, scope, { tenancy: platform });
    expect(ks(home, "apps").status).toBe("Ready");
    expect(ks(home, "apps").errors).toEqual([]);
    expect(await exists(api, "v1", "ConfigMap", "a", ns)).toBe(true);
    const live = (await api.read({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "a", namespace: ns },
    })) as {
      metadata: { managedFields: { manager: string }[] };
    };
    expect(live.metadata.managedFields.map((f) => f.manager)).toContain("gitops-bot");
    expect((await readInventory(api, { name: "apps", namespace: ns }))?.user).toBe(
      `system:serviceaccount:${ns}:deployer`,
    );

    writeTree(repo, { "apps/b.yaml": null });
    const pruned = await run(api, repo, scope, { tenancy: platform });
    expect(ks(pruned, "apps").changes.find((c) => c.subject === `ConfigMap/${ns}/b`)?.action).toBe("deleted");
    expect(await exists(api, "v1", "ConfigMap", "b", ns)).toBe(false);
  });

  it("a tenant HelmRelease is installed as its ServiceAccount: refused in another namespace, installed in its own", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "tenant");
    const other = await createNamespace(api, "victim");
    await tenantServiceAccount(api, ns, "deployer");
    const charts = await startHelmRepo();
    try {
      await charts.addChart({ name: "demo", version: "0.1.0" });
      const files = (target: string) => ({
        "clusters/dev/charts.yaml": helmRepositoryYaml("charts", ns, charts.url),
        "clusters/dev/app.yaml": helmReleaseYaml({
          name: "app",
          namespace: ns,
          extra: `  targetNamespace: ${target}\n  serviceAccountName: deployer\n`,
        }),
      });
      const repo = makeRepo(files(other));
      const scope = uniqueName("scope");
      const platform = policy({ clusterScoped: true, crossNamespaceRefs: true });
      const elsewhere = await run(api, repo, scope, { tenancy: platform });
      const refused = elsewhere.helmReleases?.find((h) => h.name === "app");
      expect(refused?.status).toBe("Failed");
      expect(refused?.message).toMatch(new RegExp(`system:serviceaccount:${ns}:deployer|forbidden`));
      expect(await exists(api, "v1", "ConfigMap", `${other}-app-config`, other)).toBe(false);
      expect(await exists(api, "v1", "ConfigMap", "app-config", other)).toBe(false);

      writeTree(repo, files(ns));
      const home = await run(api, repo, scope, { tenancy: platform });
      expect(home.helmReleases?.find((h) => h.name === "app")).toMatchObject({
        status: "Ready",
        action: "installed",
      });
      expect(await exists(api, "v1", "ConfigMap", `${ns}-app-config`, ns)).toBe(true);
    } finally {
      await charts.stop();
    }
  });

  it("refuses a tenant HelmRelease without a ServiceAccount: only RBAC can bound what a chart renders", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "tenant");
    const charts = await startHelmRepo();
    try {
      await charts.addChart({ name: "demo", version: "0.1.0" });
      const repo = makeRepo({
        "clusters/dev/charts.yaml": helmRepositoryYaml("charts", ns, charts.url),
        "clusters/dev/app.yaml": helmReleaseYaml({ name: "app", namespace: ns }),
      });
      const result = await run(api, repo, uniqueName("scope"), { tenancy: policy({ namespaces: [ns] }) });
      const refused = result.helmReleases?.find((h) => h.name === "app");
      expect(refused?.status).toBe("Failed");
      expect(refused?.message).toContain(
        `HelmRelease/${ns}/app: spec.serviceAccountName: a HelmRelease of ${TENANT} needs a ServiceAccount`,
      );
      expect(await exists(api, "v1", "ConfigMap", `${ns}-app-config`, ns)).toBe(false);
    } finally {
      await charts.stop();
    }
  });

  it("impersonates the grant's default ServiceAccount when a Kustomization names none", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "tenant");
    const other = await createNamespace(api, "victim");
    await tenantServiceAccount(api, ns, "tenant-default");
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${other}\n`,
      }),
      "apps/a.yaml": configMap("a", { a: "1" }),
    });
    const result = await run(api, repo, uniqueName("scope"), {
      tenancy: policy({
        clusterScoped: true,
        crossNamespaceRefs: true,
        defaultServiceAccount: "tenant-default",
      }),
    });
    expect(ks(result, "apps").status).toBe("Failed");
    expect(ks(result, "apps").message).toContain(`system:serviceaccount:${ns}:tenant-default`);
    expect(await exists(api, "v1", "ConfigMap", "a", other)).toBe(false);
  });

  it("follows no Flux object a ServiceAccount's build declares in a namespace its RBAC does not cover", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "tenant");
    const other = await createNamespace(api, "victim");
    await tenantServiceAccount(api, ns, "deployer");
    await tenantServiceAccount(api, other, "admin");
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./nested",
        extra: "  serviceAccountName: deployer\n",
      }),
      // Would run as the other namespace's powerful ServiceAccount if the engine followed it.
      "nested/escalate.yaml": fluxKustomization({
        name: "escalate",
        namespace: other,
        path: "./payload",
        extra: `  serviceAccountName: admin\n  targetNamespace: ${other}\n`,
      }),
      "payload/cm.yaml": configMap("planted", { a: "1" }),
    });
    const result = await run(api, repo, uniqueName("scope"), {
      tenancy: policy({ clusterScoped: true, crossNamespaceRefs: true }),
    });
    expect(ks(result, "apps").message).toBe(
      `clusters/dev/apps.yaml: Kustomization/${ns}/apps: system:serviceaccount:${ns}:deployer may not apply Kustomization/${other}/escalate (RBAC); none of the Flux objects of this build is reconciled`,
    );
    expect(result.kustomizations.map((k) => k.name)).not.toContain("escalate");
    expect(await exists(api, "v1", "ConfigMap", "planted", other)).toBe(false);

    // Within its own namespace the same layout is followed.
    writeTree(repo, {
      "nested/escalate.yaml": fluxKustomization({
        name: "inner",
        namespace: ns,
        path: "./payload",
        extra: `  serviceAccountName: deployer\n  targetNamespace: ${ns}\n`,
      }),
    });
    const own = await run(api, repo, uniqueName("scope"), {
      tenancy: policy({ clusterScoped: true, crossNamespaceRefs: true }),
    });
    expect(ks(own, "inner").status).toBe("Ready");
    expect(await exists(api, "v1", "ConfigMap", "planted", ns)).toBe(true);
  });
});

describe("diff scope: a dry-run shows no live content of objects the Kustomization does not own (attack row 4)", () => {
  async function liveCanary(api: RawObjectApi): Promise<{ name: string; value: string }> {
    const name = uniqueName("canary");
    const value = `canary-${uniqueName("v")}-do-not-show`;
    await api.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace: "kube-system" },
      data: { token: value, other: "live-only-field" },
    } as Parameters<RawObjectApi["create"]>[0]);
    return { name, value };
  }

  it("through the engine: exists, not managed here, would be taken over — and no values", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "pr");
    const canary = await liveCanary(api);
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: ns, path: "./apps" }),
      "apps/own.yaml": configMap("own", { a: "1" }, ns),
      "apps/probe.yaml": configMap(canary.name, { dummy: "x" }, "kube-system"),
    });
    const result = await run(api, repo, uniqueName("scope"), { dryRun: true, withDiff: true });
    const probe = ks(result, "apps").changes.find(
      (c) => c.subject === `ConfigMap/kube-system/${canary.name}`,
    );
    expect(probe).toMatchObject({ action: "configured", reason: TAKEOVER_REASON });
    expect(probe?.diff).toBeUndefined();
    const text = JSON.stringify(result);
    expect(text).not.toContain(canary.value);
    expect(text).not.toContain(Buffer.from(canary.value).toString("base64"));
    expect(text).not.toContain("live-only-field");
    // A new object still gets its diff.
    expect(ks(result, "apps").changes.find((c) => c.subject === `ConfigMap/${ns}/own`)?.diff).toContain(
      'a: "1"',
    );
    await api.delete({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: canary.name, namespace: "kube-system" },
    });
  });

  it("through probot.receive with a fork's pull request: the comment names the object and shows none of its data", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "prfork");
    const canary = await liveCanary(api);
    const clusterPath = `clusters/${ns}`;
    const dir = makeRepo({
      [`${clusterPath}/apps.yaml`]: fluxKustomization({ name: "apps", namespace: ns, path: `./apps/${ns}` }),
      [`apps/${ns}/probe.yaml`]: configMap(canary.name, { dummy: "x" }, "kube-system"),
    });
    const head = randomSha();
    const base = `/repos/${OWNER}/${REPO}`;
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyTarball(github, dir, head);
    const statuses = github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 }, { times: 2 });
    github.reply("GET", `${base}/issues/2/comments`, 200, []);
    const created = github.reply("POST", `${base}/issues/2/comments`, 201, { id: 140 });
    const bot = await startBot();
    const payload = pullRequestExample("opened", head);
    payload.pull_request.head.repo = {
      ...payload.pull_request.head.repo!,
      full_name: "attacker/Hello-World",
    };
    await receive(bot.probot, "pull_request", payload);
    await bot.app.queue.idle();
    github.done();

    const body = (created.requests[0]!.body as { body: string }).body;
    expect(body).toContain(`ConfigMap/kube-system/${canary.name}\` — ${TAKEOVER_REASON}`);
    expect(body).not.toContain(canary.value);
    expect(body).not.toContain(Buffer.from(canary.value).toString("base64"));
    expect(body).not.toContain("live-only-field");
    expect(body).not.toContain("dummy");
    expect(finalStatuses(statuses)["gitops/diff/dev"]).toEqual({
      state: "success",
      description: "would create 0, change 1, prune 0",
    });
    await api.delete({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: canary.name, namespace: "kube-system" },
    });
  });

  it("through probot.receive for a tenant repository: the fork's object in another namespace is refused with the rule", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "prtenant");
    const canary = await liveCanary(api);
    const clusterPath = `clusters/${ns}`;
    const dir = makeRepo({
      [`${clusterPath}/apps.yaml`]: fluxKustomization({ name: "apps", namespace: ns, path: `./apps/${ns}` }),
      [`apps/${ns}/probe.yaml`]: configMap(canary.name, { dummy: "x" }, "kube-system"),
    });
    const head = randomSha();
    const base = `/repos/${OWNER}/${REPO}`;
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyTarball(github, dir, head);
    const statuses = github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 }, { times: 2 });
    github.reply("GET", `${base}/issues/2/comments`, 200, []);
    const created = github.reply("POST", `${base}/issues/2/comments`, 201, { id: 141 });
    const bot = await startBot({
      operator: {
        clusters: [
          {
            name: "dev",
            kubeconfig: inject("kubeconfigPath"),
            repositories: [{ repository: `${OWNER}/${REPO}`, namespaces: [ns], clusterScoped: false }],
          },
        ],
        images: { enabled: false },
      },
    });
    const payload = pullRequestExample("opened", head);
    payload.pull_request.head.repo = {
      ...payload.pull_request.head.repo!,
      full_name: "attacker/Hello-World",
    };
    await receive(bot.probot, "pull_request", payload);
    await bot.app.queue.idle();
    github.done();

    const body = (created.requests[0]!.body as { body: string }).body;
    expect(body).toContain(
      `ConfigMap/kube-system/${canary.name}: metadata.namespace: namespace kube-system is not allowed for repository ${OWNER}/${REPO} on cluster dev`,
    );
    expect(body).not.toContain(canary.value);
    expect(finalStatuses(statuses)["gitops/diff/dev"]?.state).toBe("failure");
    await api.delete({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: canary.name, namespace: "kube-system" },
    });
  });
});
