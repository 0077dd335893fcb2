// The "would create" path of previews (objects whose Namespace or CRD the same change creates) attacked by a fork's
// pull request: declaring an existing namespace or kind does not hide an object from the API server's dry run or
// its live content from the takeover rule, and tenancy grants apply to would-create objects as to any other.
import { afterEach, describe, expect, inject, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { TAKEOVER_REASON } from "../../src/cluster/ssa/apply.js";
import type { KustomizationResult, RunResult } from "../../src/reconcile/result.js";
import { defaultReconcileOptions, type ReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import {
  changeNames,
  changeTree,
  deployment,
  namespaceYaml,
  widget,
  widgetCrd,
} from "../preview/change-tree.js";
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
import { createNamespace, exists, testObjectApi, uniqueName } from "../support/kube.js";
import { receive } from "../support/probot.js";
import { configMap, makeRepo, writeTree } from "../support/repo-tree.js";

let github: GitHubMock | undefined;
afterEach(() => {
  github?.cleanup();
  github = undefined;
});

/** A fork's preview through the engine, as the diff job runs it. */
function forkPreview(api: RawObjectApi, repo: string, overrides: Partial<ReconcileOptions> = {}) {
  return reconcileTree(api, {
    ...defaultReconcileOptions(repo, "clusters/dev"),
    scope: uniqueName("scope"),
    dryRun: true,
    withDiff: true,
    untrusted: true,
    ...overrides,
  });
}

function ks(result: RunResult, name: string): KustomizationResult {
  const found = result.kustomizations.find((k) => k.name === name);
  if (!found) throw new Error(`no result for ${name}: ${JSON.stringify(result, null, 2)}`);
  return found;
}

/** A fork's pull request through probot; returns the comment and the gitops/diff/dev status. */
async function forkPullRequest(dir: string, clusterPath: string, operator?: unknown) {
  const head = randomSha();
  const base = `/repos/${OWNER}/${REPO}`;
  github = mockGitHub();
  github.installationToken(INSTALLATION_ID);
  replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
  replyTarball(github, dir, head);
  const statuses = github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 }, { times: 2 });
  github.reply("GET", `${base}/issues/2/comments`, 200, []);
  const created = github.reply("POST", `${base}/issues/2/comments`, 201, { id: 160 });
  const bot = await startBot(operator ? { operator } : {});
  const payload = pullRequestExample("opened", head);
  payload.pull_request.head.repo = { ...payload.pull_request.head.repo!, full_name: "attacker/Hello-World" };
  await receive(bot.probot, "pull_request", payload);
  await bot.app.queue.idle();
  github.done();
  return {
    body: (created.requests[0]!.body as { body: string }).body,
    status: finalStatuses(statuses)["gitops/diff/dev"],
  };
}

describe("a fork cannot use the would-create path of previews", () => {
  it("to read an object in an existing namespace it declares as new: still taken over, no live values", async () => {
    const api = testObjectApi();
    const n = changeNames(await createNamespace(api, "pvatk"));
    const canary = { name: uniqueName("canary"), value: `canary-${uniqueName("v")}-do-not-show` };
    await api.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: canary.name, namespace: "kube-system" },
      data: { token: canary.value, other: "live-only-field" },
    } as Parameters<RawObjectApi["create"]>[0]);
    try {
      const clusterPath = `clusters/${n.home}`;
      const dir = makeRepo(
        changeTree(
          n,
          clusterPath,
          { "probe.yaml": configMap(canary.name, { dummy: "x" }, "kube-system") },
          { "namespace.yaml": namespaceYaml("kube-system") },
        ),
      );
      const { body, status } = await forkPullRequest(dir, clusterPath);
      expect(body).toContain(`ConfigMap/kube-system/${canary.name}\` — ${TAKEOVER_REASON}`);
      expect(body).not.toContain("is created in the same change");
      expect(body).not.toContain(canary.value);
      expect(body).not.toContain(Buffer.from(canary.value).toString("base64"));
      expect(body).not.toContain("live-only-field");
      expect(status?.state).toBe("success");
    } finally {
      await api.delete({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: canary.name, namespace: "kube-system" },
      });
    }
  });

  it("to learn what exists in the namespace its new-namespace objects are validated in (the Kustomization's)", async () => {
    const api = testObjectApi();
    const n = changeNames(await createNamespace(api, "pvstand"));
    const canary = `canary-${uniqueName("v")}-do-not-show`;
    await api.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "twin", namespace: n.home },
      data: { token: canary },
    } as Parameters<RawObjectApi["create"]>[0]);
    // The same object, once named like the live one in the stand-in namespace and once not: the same preview.
    const preview = async (name: string) => {
      const repo = makeRepo(
        changeTree(n, "clusters/dev", { "cm.yaml": configMap(name, { dummy: "x" }, n.newNamespace) }),
      );
      const result = await forkPreview(api, repo);
      expect(result.errors).toEqual([]);
      const text = JSON.stringify(result);
      expect(text).not.toContain(canary);
      return ks(result, "apps").changes.map((c) => ({
        ...c,
        id: c.id.replace(name, "NAME"),
        subject: c.subject.replace(name, "NAME"),
        diff: c.diff?.replace(name, "NAME"),
      }));
    };
    const twin = await preview("twin");
    expect(twin).toEqual(await preview(uniqueName("other")));
    expect(twin[0]).toMatchObject({
      action: "created",
      reason: `its Namespace ${n.newNamespace} is created in the same change`,
    });
  });

  it("to skip the API server's validation of an object in an existing namespace it declares as new", async () => {
    const api = testObjectApi();
    const n = changeNames(await createNamespace(api, "pvskip"));
    const existing = await createNamespace(api, "pvexist");
    const repo = makeRepo(
      changeTree(
        { ...n, newNamespace: existing },
        "clusters/dev",
        { "web.yaml": deployment(existing, "web", { selector: false }) },
        { "namespace.yaml": namespaceYaml(existing) },
      ),
    );
    const result = await forkPreview(api, repo);
    const apps = ks(result, "apps");
    expect(apps.status).toBe("Failed");
    expect(apps.errors.join("\n")).toContain(`Deployment/${existing}/web dry-run failed`);
    expect(apps.errors.join("\n")).toContain("spec.selector: Required value");
    expect(apps.changes.some((c) => c.reason?.includes("created in the same change"))).toBe(false);
  });

  it("to replace the schema of a kind the API server serves with its own permissive CRD", async () => {
    const api = testObjectApi();
    const n = changeNames(await createNamespace(api, "pvcrd"));
    // The live CRD: spec.size is an integer.
    const { parse } = await import("yaml");
    await api.create(parse(widgetCrd(n)) as Parameters<RawObjectApi["create"]>[0]);
    try {
      const deadline = Date.now() + 30_000;
      while (!(await api.isNamespaced(`${n.group}/v1`, "Widget").catch(() => undefined))) {
        if (Date.now() > deadline) throw new Error("CRD not served in time");
        await new Promise((r) => setTimeout(r, 200));
      }
      // The fork's CRD of the same kind accepts anything; its object breaks the live schema.
      const permissive = widgetCrd(n)
        .replace("required: [size]", "x-kubernetes-preserve-unknown-fields: true")
        .replace("type: integer", "type: string");
      const repo = makeRepo(
        changeTree(
          { ...n, newNamespace: n.home },
          "clusters/dev",
          { "widget.yaml": widget({ ...n, newNamespace: n.home }, "odd", "  size: big\n") },
          { "crd.yaml": permissive },
        ),
      );
      const result = await forkPreview(api, repo);
      const apps = ks(result, "apps");
      expect(apps.status).toBe("Failed");
      expect(apps.errors.join("\n")).toContain(`Widget/${n.home}/odd dry-run failed`);
      expect(apps.errors.join("\n")).toMatch(/spec\.size/);
      expect(apps.errors.join("\n")).not.toContain("created in the same change");
    } finally {
      await api.delete({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: n.crdName },
      });
    }
  });

  it("to place objects outside a tenant's namespaces: a new namespace and its objects are refused by the grant", async () => {
    const api = testObjectApi();
    const n = changeNames(await createNamespace(api, "pvtenant"));
    const clusterPath = `clusters/${n.home}`;
    const dir = makeRepo(
      changeTree(n, clusterPath, {
        "cm.yaml": configMap("settings", { a: "1" }, n.newNamespace),
        "widget.yaml": widget(n, "w", "  size: 1\n"),
      }),
    );
    const { body, status } = await forkPullRequest(dir, clusterPath, {
      clusters: [
        {
          name: "dev",
          kubeconfig: inject("kubeconfigPath"),
          // Cluster-scoped kinds allowed, so only the namespace grant stands between the fork and `newNamespace`.
          repositories: [{ repository: `${OWNER}/${REPO}`, namespaces: [n.home], clusterScoped: true }],
        },
      ],
      images: { enabled: false },
    });
    expect(status?.state).toBe("failure");
    expect(body).toContain(
      `Namespace/${n.newNamespace}: metadata.name: namespace ${n.newNamespace} is not allowed for repository ${OWNER}/${REPO} on cluster dev`,
    );
    expect(body).not.toContain("is created in the same change");
    expect(await exists(api, "v1", "Namespace", n.newNamespace)).toBe(false);
  });

  it("to preview objects of a new namespace a tenant may use, as creations, while the grant still checks them", async () => {
    const api = testObjectApi();
    const n = changeNames(await createNamespace(api, "pvok"));
    // A namespace the change creates that the grant does not name.
    const outside = `${n.newNamespace}-x`;
    const repo = makeRepo(
      changeTree(n, "clusters/dev", {
        "cm.yaml": configMap("settings", { a: "1" }, n.newNamespace),
        "escape.yaml": configMap("escape", { a: "1" }, "kube-system"),
        "outside-ns.yaml": namespaceYaml(outside),
        "outside.yaml": configMap("settings", { a: "1" }, outside),
      }),
    );
    const tenancy = {
      tenant: "tenant t",
      namespaces: [n.home, n.newNamespace],
      clusterScoped: true,
      crossNamespaceRefs: false,
    };
    const refused = await forkPreview(api, repo, { tenancy });
    const why = ks(refused, "apps").errors.join("\n");
    expect(why).toContain(
      "ConfigMap/kube-system/escape: metadata.namespace: namespace kube-system is not allowed for tenant t",
    );
    expect(why).toContain(
      `Namespace/${outside}: metadata.name: namespace ${outside} is not allowed for tenant t`,
    );
    expect(why).toContain(
      `ConfigMap/${outside}/settings: metadata.namespace: namespace ${outside} is not allowed for tenant t`,
    );
    expect(ks(refused, "apps").changes).toEqual([]);
    writeTree(repo, { "apps/escape.yaml": null, "apps/outside-ns.yaml": null, "apps/outside.yaml": null });
    const allowed = await forkPreview(api, repo, { tenancy });
    expect(allowed.errors).toEqual([]);
    expect(ks(allowed, "apps").changes).toContainEqual(
      expect.objectContaining({
        subject: `ConfigMap/${n.newNamespace}/settings`,
        action: "created",
        reason: `its Namespace ${n.newNamespace} is created in the same change`,
      }),
    );
  });
});
