// Never down because of one repository (attack row 9, issue #9 §11): a fork's pull request with
// fluxcd/flux2-multi-tenancy's layout whose sources cannot be reached took the whole process down with an
// unhandled rejection. vitest fails a file on any unhandled rejection, which is itself a guard here; the tests
// also assert the errors name the sources and that another repository's push still reconciles afterwards.
import { afterEach, describe, expect, inject, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import {
  finalStatuses,
  INSTALLATION_ID,
  OWNER,
  pullRequestExample,
  pushExample,
  REPO,
  randomSha,
  replyRepoConfig,
  replyTarball,
  repoConfigYaml,
  startBot,
  tarballOf,
} from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { createNamespace, exists, testObjectApi, uniqueName } from "../support/kube.js";
import { receive } from "../support/probot.js";
import { freePort } from "../support/processes.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

let github: GitHubMock | undefined;
afterEach(() => {
  github?.cleanup();
  github = undefined;
});

/**
 * flux2-multi-tenancy's platform layout under `clusterPath`: infrastructure from an OCIRepository on a closed
 * loopback port, and a tenant (namespace, RBAC, GitRepository on a host that does not resolve, Kustomization
 * as its ServiceAccount) under tenants/.
 */
async function multiTenancyLayout(clusterPath: string, tenantNs: string): Promise<Record<string, string>> {
  const closedPort = await freePort();
  return {
    [`${clusterPath}/infrastructure.yaml`]: fluxKustomization({
      name: "infra-controllers",
      namespace: "flux-system",
      path: "./infrastructure/controllers",
    }),
    [`${clusterPath}/tenants.yaml`]: fluxKustomization({
      name: "tenants",
      namespace: "flux-system",
      path: `./tenants/${tenantNs}`,
      extra: "  dependsOn:\n    - name: infra-controllers\n",
    }),
    "infrastructure/controllers/kustomization.yaml": "resources:\n  - kyverno.yaml\n",
    "infrastructure/controllers/kyverno.yaml": `apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: OCIRepository
metadata:
  name: kyverno-controller
  namespace: flux-system
spec:
  interval: 12h
  url: oci://127.0.0.1:${closedPort}/kyverno/manifests
  ref:
    semver: ">=1.0.0"
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: kyverno
  namespace: flux-system
spec:
  interval: 1h
  prune: true
  sourceRef:
    kind: OCIRepository
    name: kyverno-controller
  path: ./
`,
    [`tenants/${tenantNs}/kustomization.yaml`]: "resources:\n  - rbac.yaml\n  - sync.yaml\n",
    [`tenants/${tenantNs}/rbac.yaml`]: `apiVersion: v1
kind: Namespace
metadata:
  name: ${tenantNs}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: dev-team
  namespace: ${tenantNs}
`,
    [`tenants/${tenantNs}/sync.yaml`]: `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: dev-team
  namespace: ${tenantNs}
spec:
  interval: 1m
  url: https://dev-team.invalid/acme/dev-team
  ref:
    branch: main
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: dev-team
  namespace: ${tenantNs}
spec:
  serviceAccountName: dev-team
  interval: 5m
  prune: true
  sourceRef:
    kind: GitRepository
    name: dev-team
`,
  };
}

describe("never down because of one repository", () => {
  it("the engine returns errors naming the unreachable sources instead of rejecting", async () => {
    const api = testObjectApi();
    const tenantNs = uniqueName("dev-team");
    const repo = makeRepo(await multiTenancyLayout("clusters/dev", tenantNs));
    const started = Date.now();
    const result = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
      dryRun: true,
      withDiff: true,
      untrusted: true,
    });
    expect(Date.now() - started).toBeLessThan(60_000);
    const byName = Object.fromEntries(result.kustomizations.map((k) => [k.name, k]));
    expect(byName.kyverno?.status).toBe("Failed");
    expect(byName.kyverno?.message).toContain("OCIRepository/flux-system/kyverno-controller");
    expect(byName["dev-team"]?.status).toBe("Failed");
    expect(byName["dev-team"]?.message).toContain(`GitRepository/${tenantNs}/dev-team`);
    expect(byName["dev-team"]?.message).toMatch(/dev-team\.invalid|ENOTFOUND|resolve/i);
    const sources = Object.fromEntries((result.sources ?? []).map((s) => [`${s.kind}/${s.name}`, s]));
    expect(sources["OCIRepository/kyverno-controller"]?.error).toBeTruthy();
    expect(sources["GitRepository/dev-team"]?.error).toBeTruthy();
  });

  it("the CLI's build ends with an error naming the source, and the process goes on", async () => {
    const tenantNs = uniqueName("dev-team");
    const repo = makeRepo(await multiTenancyLayout("clusters/dev", tenantNs));
    let err = "";
    const io = { out: { write: () => {} }, err: { write: (s: string) => (err += s) } };
    const code = await main(["build", `${repo}/clusters/dev`, "--repo", repo], io);
    expect(code).toBe(2);
    expect(err).toMatch(/OCIRepository\/flux-system\/kyverno-controller|GitRepository\/.*\/dev-team/);
  });

  it("a fork's pull request gets its error in a status and the comment; another repository's push still reconciles", async () => {
    const api = testObjectApi();
    const tenantNs = uniqueName("dev-team");
    const clusterPath = `clusters/${uniqueName("mt")}`;
    const prTree = makeRepo(await multiTenancyLayout(clusterPath, tenantNs));
    const head = randomSha();
    const base = `/repos/${OWNER}/${REPO}`;
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyTarball(github, prTree, head);
    const prStatuses = github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 }, { times: 2 });
    github.reply("GET", `${base}/issues/2/comments`, 200, []);
    const comment = github.reply("POST", `${base}/issues/2/comments`, 201, { id: 150 });

    // A second repository of the same installation, allowed on the same cluster.
    const other = "Other-Repo";
    const otherBase = `/repos/${OWNER}/${other}`;
    const ns = await createNamespace(api, "survivor");
    const otherPath = `clusters/${ns}`;
    const otherTree = makeRepo({
      [`${otherPath}/apps.yaml`]: fluxKustomization({
        name: "apps",
        namespace: ns,
        path: `./apps/${ns}`,
        extra: `  targetNamespace: ${ns}\n`,
      }),
      [`apps/${ns}/alive.yaml`]: configMap("alive", { still: "serving" }),
    });
    const sha = randomSha();
    const config = repoConfigYaml([{ name: "dev", path: otherPath }]);
    github.reply("GET", new RegExp(`^${otherBase}/contents/\\.github(%2F|/)gitops\\.yaml$`), 200, {
      type: "file",
      encoding: "base64",
      size: config.length,
      name: "gitops.yaml",
      path: ".github/gitops.yaml",
      content: Buffer.from(config).toString("base64"),
      sha: randomSha(),
      url: `https://api.github.com${otherBase}/contents/.github/gitops.yaml`,
      git_url: null,
      html_url: null,
      download_url: null,
      _links: { self: "", git: null, html: null },
    });
    // Read by the push job (before queuing) and by its reconcile (before applying).
    github.reply(
      "GET",
      `${otherBase}/git/ref/heads%2Fmaster`,
      200,
      { ref: "refs/heads/master", object: { sha, type: "commit" } },
      { times: 2 },
    );
    github.reply("GET", `${otherBase}/tarball/${sha}`, 200, tarballOf(otherTree, sha), {
      headers: { "content-type": "application/x-gzip" },
    });
    github.reply("POST", `${otherBase}/check-runs`, 201, { id: 77 });
    github.reply("PATCH", `${otherBase}/check-runs/77`, 200, { id: 77 }, { times: 2 });
    const otherStatuses = github.reply("POST", `${otherBase}/statuses/${sha}`, 201, { id: 1 }, { times: 2 });

    const bot = await startBot({
      operator: {
        clusters: [
          {
            name: "dev",
            kubeconfig: inject("kubeconfigPath"),
            repositories: [`${OWNER}/${REPO}`, `${OWNER}/${other}`],
          },
        ],
        images: { enabled: false },
      },
    });
    const pr = pullRequestExample("opened", head);
    pr.pull_request.head.repo = { ...pr.pull_request.head.repo!, full_name: "attacker/Hello-World" };
    await receive(bot.probot, "pull_request", pr);
    await bot.app.queue.idle();

    const status = finalStatuses(prStatuses)["gitops/diff/dev"];
    expect(status?.state).toBe("failure");
    const body = (comment.requests[0]!.body as { body: string }).body;
    expect(body).toContain("OCIRepository/flux-system/kyverno-controller");
    expect(body).toContain(`GitRepository/${tenantNs}/dev-team`);

    const push = pushExample(sha);
    push.repository = { ...push.repository, name: other, full_name: `${OWNER}/${other}` };
    await receive(bot.probot, "push", push);
    await bot.app.queue.idle();
    github.done();
    expect(finalStatuses(otherStatuses)["gitops/dev"]?.state).toBe("success");
    expect(await exists(api, "v1", "ConfigMap", "alive", ns)).toBe(true);
  });
});
