// Pull request → live dry-run → one comment, updated in place: GitHub's example pull_request payloads through
// probot, GitHub simulated by the OpenAPI-checked mock, the cluster real.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, inject, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { DIFF_COMMENT_MARKER } from "../../src/github/views/pr-comment-report.js";
import {
  appsRepo,
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
import { createNamespace, exists, testObjectApi } from "../support/kube.js";
import { receive } from "../support/probot.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

const base = `/repos/${OWNER}/${REPO}`;
let github: GitHubMock | undefined;
afterEach(() => github?.cleanup());

const prPayload = pullRequestExample;

const prRepo = (api: RawObjectApi, objects: (ns: string) => Record<string, string>) =>
  appsRepo(api, "pr", objects);

const secret = (name: string, value: string) =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\nstringData:\n  password: ${value}\n`;

function botComment(id: number, body: string) {
  return { id, body, user: { login: "gitops-bot[bot]", type: "Bot" } };
}

describe("pull request dry-run", () => {
  it("comments what would be created, masks Secret values, and applies nothing", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await prRepo(api, () => ({
      "a.yaml": configMap("a", { color: "blue" }),
      "s.yaml": secret("db", "hunter2-very-secret"),
    }));
    const head = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyTarball(github, dir, head);
    const statuses = github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 }, { times: 2 });
    github.reply("GET", `${base}/issues/2/comments`, 200, [
      { id: 3, body: `quoting ${DIFF_COMMENT_MARKER}`, user: { login: "someone", type: "User" } },
    ]);
    const created = github.reply("POST", `${base}/issues/2/comments`, 201, { id: 99 });

    const bot = await startBot();
    await receive(bot.probot, "pull_request", prPayload("opened", head));
    await bot.app.queue.idle();
    github.done();

    expect(finalStatuses(statuses)["gitops/diff/dev"]).toEqual({
      state: "success",
      description: "would create 2, change 0, prune 0",
    });
    const body = (created.requests[0]!.body as { body: string }).body;
    expect(body).toContain(DIFF_COMMENT_MARKER);
    expect(body).toContain(`create \`ConfigMap/${ns}/a\``);
    expect(body).toContain(`create \`Secret/${ns}/db\``);
    expect(body).toContain("color: blue");
    expect(body).not.toContain("hunter2-very-secret");
    expect(body).not.toContain(Buffer.from("hunter2-very-secret").toString("base64"));
    expect(body).toContain(head.slice(0, 7));
    expect(await exists(api, "v1", "ConfigMap", "a", ns)).toBe(false);
  });

  it("updates its comment on synchronize instead of adding another, showing changes and prunes", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await prRepo(api, () => ({
      "a.yaml": configMap("a", { color: "green" }),
    }));
    // Live state: what the base branch applied (a blue `a` and an `old` that the PR removes).
    const { reconcileTree, defaultReconcileOptions } = await import("../../src/reconcile/run.js");
    const { inventoryScope } = await import("../../src/reconcile/scope.js");
    const baseDir = makeRepo({
      [`${clusterPath}/apps.yaml`]: fluxKustomization({
        name: "apps",
        namespace: ns,
        path: `./apps/${ns}`,
        extra: `  targetNamespace: ${ns}\n`,
      }),
      [`apps/${ns}/a.yaml`]: configMap("a", { color: "blue" }),
      [`apps/${ns}/old.yaml`]: configMap("old", { x: "1" }),
    });
    const applied = await reconcileTree(api, {
      ...defaultReconcileOptions(baseDir, clusterPath),
      scope: inventoryScope(`github.com/${OWNER}/${REPO}`.toLowerCase(), clusterPath),
    });
    expect(applied.errors).toEqual([]);

    const head = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(
      github,
      repoConfigYaml([{ name: "dev", path: clusterPath }], "pullRequests:\n  failOnPrune: true\n"),
    );
    replyTarball(github, dir, head);
    const statuses = github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 }, { times: 2 });
    github.reply("GET", `${base}/issues/2/comments`, 200, [botComment(55, `${DIFF_COMMENT_MARKER}\nold`)]);
    const updated = github.reply("PATCH", `${base}/issues/comments/55`, 200, { id: 55 });

    const bot = await startBot();
    await receive(bot.probot, "pull_request", prPayload("synchronize", head));
    await bot.app.queue.idle();
    github.done(); // no POST of a second comment was declared

    const body = (updated.requests[0]!.body as { body: string }).body;
    expect(body).toContain(`change \`ConfigMap/${ns}/a\``);
    expect(body).toMatch(/-\s+color: blue/);
    expect(body).toMatch(/\+\s+color: green/);
    expect(body).toContain(`prune \`ConfigMap/${ns}/old\``);
    expect(finalStatuses(statuses)["gitops/diff/dev"]).toEqual({
      state: "failure",
      description: "would prune 1 object(s); pruning is gated in .github/gitops.yaml",
    });
    expect(await exists(api, "v1", "ConfigMap", "old", ns)).toBe(true);
  });

  it("keeps a huge diff within GitHub's comment limit and says what was cut", async () => {
    const api = testObjectApi();
    const big = "x".repeat(3000);
    const { clusterPath, dir } = await prRepo(api, () =>
      Object.fromEntries(
        Array.from({ length: 60 }, (_, i) => [
          `cm-${i}.yaml`,
          configMap(`cm-${i}`, { a: big, b: `${big}${i}` }),
        ]),
      ),
    );
    const head = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyTarball(github, dir, head);
    github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 }, { times: 2 });
    github.reply("GET", `${base}/issues/2/comments`, 200, []);
    const created = github.reply("POST", `${base}/issues/2/comments`, 201, { id: 100 });

    const bot = await startBot();
    await receive(bot.probot, "pull_request", prPayload("opened", head));
    await bot.app.queue.idle();
    github.done();

    const body = (created.requests[0]!.body as { body: string }).body;
    expect(body.length).toBeLessThanOrEqual(65_536);
    expect(body).toMatch(/larger than a GitHub comment .*diff\(s\) shown as one line/);
    // Every object is still named, even where its diff had to go.
    for (let i = 0; i < 60; i++) expect(body).toContain(`/cm-${i}\``);
  });

  it("reports a cluster the repository may not target in the comment and a failing status", async () => {
    const head = randomSha();
    const dir = makeRepo({ "clusters/prod/empty.yaml": "" });
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "prod", path: "clusters/prod" }]));
    replyTarball(github, dir, head);
    const statuses = github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 }, { times: 2 });
    github.reply("GET", `${base}/issues/2/comments`, 200, []);
    const created = github.reply("POST", `${base}/issues/2/comments`, 201, { id: 101 });

    const bot = await startBot({
      operator: { clusters: [{ name: "prod", kubeconfig: "/nonexistent", repositories: ["acme/*"] }] },
    });
    await receive(bot.probot, "pull_request", prPayload("opened", head));
    await bot.app.queue.idle();
    github.done();

    expect(finalStatuses(statuses)["gitops/diff/prod"]?.state).toBe("failure");
    expect((created.requests[0]!.body as { body: string }).body).toContain(
      "is not allowed to target cluster",
    );
  });

  it("does not diff pull requests from forks when the operator disabled it, but says so in the status", async () => {
    const head = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: "clusters/dev" }]));
    const statuses = github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 });
    const bot = await startBot({
      operator: { clusters: [], pullRequests: { forks: false }, images: { enabled: false } },
    });
    const payload = prPayload("opened", head);
    payload.pull_request.head.repo = { ...payload.pull_request.head.repo!, full_name: "someone/Hello-World" };
    await receive(bot.probot, "pull_request", payload);
    await bot.app.queue.idle();
    github.done(); // no tarball, no comment: nothing from the fork was read
    expect(finalStatuses(statuses)["gitops/diff/dev"]).toEqual({
      state: "success",
      description: "not diffed: pull requests from forks are not diffed on this server",
    });
  });

  it("scrubs values substituted from Secrets, and reads no Secret at all for a fork's pull request", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "prsec");
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "vars", namespace: ns },
      stringData: { password: "correct-horse-battery" },
    } as Parameters<typeof api.create>[0]);
    const clusterPath = `clusters/${ns}`;
    const dir = makeRepo({
      [`${clusterPath}/apps.yaml`]: fluxKustomization({
        name: "apps",
        namespace: ns,
        path: `./apps/${ns}`,
        extra: `  targetNamespace: ${ns}\n  postBuild:\n    substituteFrom:\n      - kind: Secret\n        name: vars\n`,
      }),
      [`apps/${ns}/leak.yaml`]: configMap("leak", { dsn: "postgres://app:${password}@db" }),
    });
    const run = async (fork: boolean) => {
      const head = randomSha();
      github = mockGitHub();
      github.installationToken(INSTALLATION_ID);
      replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
      replyTarball(github, dir, head);
      const statuses = github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 }, { times: 2 });
      github.reply("GET", `${base}/issues/2/comments`, 200, []);
      const created = github.reply("POST", `${base}/issues/2/comments`, 201, { id: 102 });
      const bot = await startBot();
      const payload = prPayload("opened", head);
      if (fork)
        payload.pull_request.head.repo = {
          ...payload.pull_request.head.repo!,
          full_name: "someone/Hello-World",
        };
      await receive(bot.probot, "pull_request", payload);
      await bot.app.queue.idle();
      github.done();
      github = undefined;
      return {
        body: (created.requests[0]!.body as { body: string }).body,
        status: finalStatuses(statuses)["gitops/diff/dev"],
      };
    };

    const same = await run(false);
    expect(same.body).toContain("postgres://app:*****@db");
    expect(same.body).not.toContain("correct-horse-battery");

    const fork = await run(true);
    expect(fork.status?.state).toBe("failure");
    expect(fork.body).toContain(
      `substituteFrom Secret/${ns}/vars is not read for changes from outside the repository`,
    );
    expect(fork.body).not.toContain("correct-horse-battery");
  });

  it("fetches remote kustomize resources only where the operator allows them, and never for a fork", async () => {
    const api = testObjectApi();
    const requests: string[] = [];
    const server = createServer((req, res) => {
      requests.push(req.url ?? "");
      res.end("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: remote\ndata:\n  from: remote\n");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const { ns, clusterPath, dir } = await prRepo(api, () => ({
        "kustomization.yaml": `resources:\n  - http://127.0.0.1:${port}/remote.yaml\n`,
      }));
      const run = async (fork: boolean) => {
        const head = randomSha();
        github = mockGitHub();
        github.installationToken(INSTALLATION_ID);
        replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
        replyTarball(github, dir, head);
        const statuses = github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 }, { times: 2 });
        github.reply("GET", `${base}/issues/2/comments`, 200, []);
        const created = github.reply("POST", `${base}/issues/2/comments`, 201, { id: 103 });
        const bot = await startBot({
          operator: {
            clusters: [
              { name: "dev", kubeconfig: inject("kubeconfigPath"), repositories: [`${OWNER}/${REPO}`] },
            ],
            images: { enabled: false },
            security: { remoteKustomizeResources: true },
          },
        });
        const payload = prPayload("opened", head);
        if (fork)
          payload.pull_request.head.repo = {
            ...payload.pull_request.head.repo!,
            full_name: "someone/Hello-World",
          };
        await receive(bot.probot, "pull_request", payload);
        await bot.app.queue.idle();
        github.done();
        github = undefined;
        return {
          body: (created.requests[0]!.body as { body: string }).body,
          status: finalStatuses(statuses)["gitops/diff/dev"],
        };
      };

      const fork = await run(true);
      expect(fork.status?.state).toBe("failure");
      expect(fork.body).toContain("is a remote reference; remote kustomize resources are off");
      expect(requests).toEqual([]);

      const same = await run(false);
      expect(same.status).toEqual({ state: "success", description: "would create 1, change 0, prune 0" });
      expect(same.body).toContain(`create \`ConfigMap/${ns}/remote\``);
      expect(requests).toEqual(["/remote.yaml"]);
    } finally {
      server.close();
    }
  });
});
