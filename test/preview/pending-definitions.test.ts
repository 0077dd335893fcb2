// Previews of a change that creates its own Namespace and CRD (Kustomization `infra`) and objects in that namespace
// and of that kind (Kustomization `apps`, dependsOn infra): the CLI's `diff` and the PR preview show them as
// creations instead of failing on `namespaces "…" not found`; real errors in those objects still fail, naming them.
import { afterEach, describe, expect, inject, it } from "vitest";
import { DIFF_COMMENT_MARKER } from "../../src/github/views/pr-comment-report.js";
import { cli } from "../support/cli.js";
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
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";
import { changeNames, changeTree, deployment, namespaceYaml, widget } from "./change-tree.js";

let github: GitHubMock | undefined;
afterEach(() => {
  github?.cleanup();
  github = undefined;
});

async function diffCli(files: Record<string, string>) {
  const repo = makeRepo(files);
  return cli([
    "diff",
    "clusters/dev",
    "--repo",
    repo,
    "--kubeconfig",
    inject("kubeconfigPath"),
    "--scope",
    uniqueName("scope"),
    "-q",
  ]);
}

describe("gitops-bot diff of a change that creates its own namespace and CRD", () => {
  it("previews the Namespace, the CRD, a Deployment in the namespace and a custom object as creations, exit 1", async () => {
    const api = testObjectApi();
    const n = changeNames(await createNamespace(api, "pvcli"));
    const { code, out, err } = await diffCli(
      changeTree(n, "clusters/dev", {
        "web.yaml": deployment(n.newNamespace, "web"),
        "widget.yaml": widget(n, "small", "  size: 3\n  color: red\n"),
      }),
    );
    expect(err).toBe("");
    expect(code).toBe(1);
    expect(out).toContain(`+ created    Namespace/${n.newNamespace}`);
    expect(out).toContain(`+ created    CustomResourceDefinition/${n.crdName}`);
    expect(out).toContain(
      `+ created    Deployment/${n.newNamespace}/web (its Namespace ${n.newNamespace} is created in the same change)`,
    );
    expect(out).toContain(
      `+ created    Widget/${n.newNamespace}/small (its CustomResourceDefinition is created in the same change)`,
    );
    expect(out).not.toContain("not found");
    // A preview applies nothing.
    expect(await exists(api, "v1", "Namespace", n.newNamespace)).toBe(false);
  });

  it("previews a Namespace and its objects built by one Kustomization as creations too", async () => {
    const api = testObjectApi();
    const n = changeNames(await createNamespace(api, "pvone"));
    const { code, out, err } = await diffCli({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: n.home, path: "./apps" }),
      "apps/namespace.yaml": namespaceYaml(n.newNamespace),
      "apps/cm.yaml": configMap("settings", { color: "blue" }, n.newNamespace),
    });
    expect(err).toBe("");
    expect(code).toBe(1);
    expect(out).toContain(`+ created    Namespace/${n.newNamespace}`);
    expect(out).toContain(
      `+ created    ConfigMap/${n.newNamespace}/settings (its Namespace ${n.newNamespace} is created in the same change)`,
    );
  });

  it("still fails on an error the API server finds in an object of the new namespace, naming object and field", async () => {
    const api = testObjectApi();
    const n = changeNames(await createNamespace(api, "pvbad"));
    const { code, out, err } = await diffCli(
      changeTree(n, "clusters/dev", { "web.yaml": deployment(n.newNamespace, "web", { selector: false }) }),
    );
    expect(code).toBe(2);
    const text = out + err;
    expect(text).toContain(`Deployment/${n.newNamespace}/web dry-run failed`);
    expect(text).toContain("spec.selector: Required value");
    expect(text).not.toContain(`namespaces "${n.newNamespace}" not found`);
  });

  it("still fails on a wrong type in an object of the new namespace (the API server decodes it first)", async () => {
    const api = testObjectApi();
    const n = changeNames(await createNamespace(api, "pvtype"));
    const { code, out, err } = await diffCli(
      changeTree(n, "clusters/dev", { "web.yaml": deployment(n.newNamespace, "web", { replicas: '"two"' }) }),
    );
    expect(code).toBe(2);
    expect(out + err).toContain(`Deployment/${n.newNamespace}/web dry-run failed`);
    expect(out + err).toContain(".spec.replicas: expected numeric");
  });

  it("still fails on a custom object its new CRD's schema refuses, naming object and fields", async () => {
    const api = testObjectApi();
    const n = changeNames(await createNamespace(api, "pvschema"));
    const { code, out, err } = await diffCli(
      changeTree(n, "clusters/dev", { "widget.yaml": widget(n, "odd", "  size: big\n  color: green\n") }),
    );
    expect(code).toBe(2);
    const text = out + err;
    expect(text).toContain(`Widget/${n.newNamespace}/odd dry-run failed`);
    expect(text).toContain("spec.size: must be integer");
    expect(text).toContain("spec.color: must be equal to one of the allowed values (red, blue)");
    expect(text).toContain(`schema of CustomResourceDefinition ${n.crdName}`);
  });

  it("fails on a custom object of a version its new CRD does not serve", async () => {
    const api = testObjectApi();
    const n = changeNames(await createNamespace(api, "pvver"));
    const { code, out, err } = await diffCli(
      changeTree(n, "clusters/dev", {
        "widget.yaml": widget(n, "w", "  size: 1\n").replace(`${n.group}/v1`, `${n.group}/v2`),
      }),
    );
    expect(code).toBe(2);
    expect(out + err).toContain(
      `Widget/${n.newNamespace}/w dry-run failed: apiVersion: version v2 is not served by CustomResourceDefinition ${n.crdName} (served: v1)`,
    );
  });
});

describe("pull request preview of a change that creates its own namespace and CRD", () => {
  for (const fork of [false, true]) {
    it(`is a green gitops/diff/<cluster> that lists the creations (${fork ? "fork" : "same repository"})`, async () => {
      const api = testObjectApi();
      const n = changeNames(await createNamespace(api, fork ? "pvfork" : "pvpr"));
      const clusterPath = `clusters/${n.home}`;
      const dir = makeRepo(
        changeTree(n, clusterPath, {
          "web.yaml": deployment(n.newNamespace, "web"),
          "widget.yaml": widget(n, "small", "  size: 3\n"),
        }),
      );
      const head = randomSha();
      const base = `/repos/${OWNER}/${REPO}`;
      github = mockGitHub();
      github.installationToken(INSTALLATION_ID);
      replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
      replyTarball(github, dir, head);
      const statuses = github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 }, { times: 2 });
      github.reply("GET", `${base}/issues/2/comments`, 200, []);
      const created = github.reply("POST", `${base}/issues/2/comments`, 201, { id: 150 });
      const bot = await startBot();
      const payload = pullRequestExample("opened", head);
      if (fork)
        payload.pull_request.head.repo = {
          ...payload.pull_request.head.repo!,
          full_name: "someone/Hello-World",
        };
      await receive(bot.probot, "pull_request", payload);
      await bot.app.queue.idle();
      github.done();

      expect(finalStatuses(statuses)["gitops/diff/dev"]).toEqual({
        state: "success",
        description: "would create 4, change 0, prune 0",
      });
      const body = (created.requests[0]!.body as { body: string }).body;
      expect(body).toContain(DIFF_COMMENT_MARKER);
      expect(body).toContain(`create \`Namespace/${n.newNamespace}\``);
      expect(body).toContain(`create \`CustomResourceDefinition/${n.crdName}\``);
      expect(body).toContain(
        `create \`Deployment/${n.newNamespace}/web\` — its Namespace ${n.newNamespace} is created in the same change`,
      );
      expect(body).toContain(
        `create \`Widget/${n.newNamespace}/small\` — its CustomResourceDefinition is created in the same change`,
      );
      expect(body).toContain("image: nginx:1.27");
      expect(body).not.toContain("not found");
      expect(await exists(api, "v1", "Namespace", n.newNamespace)).toBe(false);
    });
  }
});
