// Push → reconcile → report, end to end: GitHub's example push payload through probot, GitHub simulated by the
// OpenAPI-checked mock, the cluster real. Each test has its own namespace and cluster path (so its own scope).
import { afterEach, describe, expect, it, vi } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { GitOpsOctokit } from "../../src/github/octokit.js";
import {
  movingBranchHead,
  replyCompare,
  replyHeadReads,
  replyPushHead,
} from "../support/branch-head-nock.js";
import {
  appsRepo,
  finalStatuses,
  INSTALLATION_ID,
  OWNER,
  pushExample,
  REPO,
  randomSha,
  replyRepoConfig,
  replyTarball,
  repoConfigYaml,
  startBot,
} from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { exists, testObjectApi } from "../support/kube.js";
import { receive } from "../support/probot.js";
import { configMap } from "../support/repo-tree.js";

const base = `/repos/${OWNER}/${REPO}`;
let github: GitHubMock | undefined;
afterEach(() => github?.cleanup());

const pushPayload = pushExample;

const repoFor = (api: RawObjectApi, objects: (ns: string) => Record<string, string>) =>
  appsRepo(api, "gh", objects);

describe("push", () => {
  it("reconciles the bound cluster and reports statuses per Kustomization and a check run table", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await repoFor(api, () => ({
      "a.yaml": configMap("a", { color: "blue" }),
      "b.yaml": configMap("b", { size: "L" }),
    }));
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    const config = replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyPushHead(github, sha);
    replyTarball(github, dir, sha);
    const created = github.reply("POST", `${base}/check-runs`, 201, { id: 7 });
    const updated = github.reply("PATCH", `${base}/check-runs/7`, 200, { id: 7 }, { times: 2 });
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 2 });

    const bot = await startBot();
    await receive(bot.probot, "push", pushPayload(sha));
    await bot.app.queue.idle();
    github.done();

    expect(config.requests[0]?.path).toContain("ref=master");
    expect(created.requests[0]?.body).toMatchObject({
      name: "gitops / dev",
      head_sha: sha,
      status: "queued",
    });
    expect(finalStatuses(statuses)).toEqual({
      "gitops/dev": { state: "success", description: expect.stringMatching(/^1 Kustomization ready in /) },
      "gitops/dev/apps": { state: "success", description: expect.stringMatching(/^2 created/) },
    });
    // No pending statuses (the check run says queued and in progress); the cluster's final status comes first.
    expect(statuses.requests.map((r) => (r.body as { context: string }).context)).toEqual([
      "gitops/dev",
      "gitops/dev/apps",
    ]);
    expect(updated.requests[0]?.body).toMatchObject({ status: "in_progress" });
    const final = updated.requests[1]?.body as {
      conclusion: string;
      output: { title: string; summary: string };
    };
    expect(final.conclusion).toBe("success");
    expect(final.output.summary).toContain(`| ✅ \`Kustomization/${ns}/apps\` | Ready | 2 | 0 | 0 | 0 |`);
    expect(final.output.summary).toContain(`created \`ConfigMap/${ns}/a\``);
    expect(await exists(api, "v1", "ConfigMap", "a", ns)).toBe(true);
  });

  it("reads the branch head once in full: the reconcile's read after the push job's is a conditional 304", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await repoFor(api, () => ({
      "a.yaml": configMap("a", { color: "red" }),
    }));
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    const refPath = `${base}/git/ref/heads%2Fmaster`;
    const etag = `W/"${sha.slice(0, 12)}"`;
    const full = github.reply(
      "GET",
      refPath,
      200,
      { ref: "refs/heads/master", object: { sha, type: "commit" } },
      { headers: { etag } },
    );
    // GitHub answers a matching If-None-Match with 304 Not Modified, which does not count against the rate limit.
    const notModified = github.reply("GET", refPath, 304);
    replyTarball(github, dir, sha);
    github.reply("POST", `${base}/check-runs`, 201, { id: 9 });
    github.reply("PATCH", `${base}/check-runs/9`, 200, { id: 9 }, { times: 2 });
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 2 });

    const bot = await startBot();
    await receive(bot.probot, "push", pushPayload(sha));
    await bot.app.queue.idle();
    github.done();

    expect(full.requests).toHaveLength(1);
    expect(notModified.requests).toHaveLength(1);
    expect(full.requests[0]?.ifNoneMatch).toBeUndefined();
    expect(notModified.requests[0]?.ifNoneMatch).toBe(etag);
    expect(finalStatuses(statuses)["gitops/dev"]?.state).toBe("success");
    expect(await exists(api, "v1", "ConfigMap", "a", ns)).toBe(true);
  });

  it("reports a failing apply as a failure status naming the object and the API server's reason", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await repoFor(api, () => ({
      "good.yaml": configMap("good", { a: "1" }),
      "bad.yaml": configMap("bad", { "not a valid key!": "1" }),
    }));
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyPushHead(github, sha);
    replyTarball(github, dir, sha);
    github.reply("POST", `${base}/check-runs`, 201, { id: 8 });
    const updated = github.reply("PATCH", `${base}/check-runs/8`, 200, { id: 8 }, { times: 2 });
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 2 });

    const bot = await startBot();
    await receive(bot.probot, "push", pushPayload(sha));
    await bot.app.queue.idle();
    github.done();

    const final = finalStatuses(statuses);
    expect(final["gitops/dev/apps"]?.state).toBe("failure");
    expect(final["gitops/dev/apps"]?.description).toContain(`ConfigMap/${ns}/bad`);
    expect(final["gitops/dev"]?.state).toBe("failure");
    const report = updated.requests[1]?.body as { conclusion: string; output: { summary: string } };
    expect(report.conclusion).toBe("failure");
    expect(report.output.summary).toContain(`ConfigMap/${ns}/bad`);
    expect(report.output.summary).toMatch(/Invalid value: "not a valid key!"/);
    expect(await exists(api, "v1", "ConfigMap", "good", ns)).toBe(false);
  });

  it("refuses a cluster the repository is not allowed on, applying nothing", async () => {
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "prod", path: "clusters/prod" }]));
    const check = github.reply("POST", `${base}/check-runs`, 201, { id: 9 });
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 });

    const bot = await startBot({
      operator: {
        images: { enabled: false },
        clusters: [{ name: "prod", kubeconfig: "/nonexistent", repositories: ["acme/platform"] }],
      },
    });
    await receive(bot.probot, "push", pushPayload(sha));
    await bot.app.queue.idle();
    github.done(); // no tarball was fetched: nothing was even read

    expect(finalStatuses(statuses)["gitops/prod"]).toEqual({
      state: "failure",
      description:
        'repository Codertocat/Hello-World is not allowed to target cluster "prod"; nothing applied',
    });
    expect(check.requests[0]?.body).toMatchObject({ conclusion: "failure", name: "gitops / prod" });
  });

  it("fails a gitops/config check naming the file, line and field of a bad .github/gitops.yaml", async () => {
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, "clusters:\n  - name: dev\n    pth: clusters/dev\n");
    const check = github.reply("POST", `${base}/check-runs`, 201, { id: 10 });
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 });

    const bot = await startBot();
    await receive(bot.probot, "push", pushPayload(sha));
    await bot.app.queue.idle();
    github.done();

    const status = finalStatuses(statuses)["gitops/config"];
    expect(status?.state).toBe("failure");
    expect(status?.description).toMatch(/\.github\/gitops\.yaml: line 2: clusters\[0\]/);
    const output = (check.requests[0]!.body as { output: { summary: string } }).output.summary;
    expect(output).toContain("`.github/gitops.yaml` line 2, `clusters[0]`");
    expect(output).toMatch(/pth/);
  });

  it("ignores tag pushes, deleted branches and branches no cluster tracks", async () => {
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: "clusters/dev" }]));
    const bot = await startBot();
    await receive(bot.probot, "push", pushPayload(randomSha(), "refs/tags/v1.0.0"));
    const deleted = pushPayload("0".repeat(40), "refs/heads/old");
    deleted.deleted = true;
    await receive(bot.probot, "push", deleted);
    // Only this one reads the config, and finds no cluster for the branch.
    await receive(bot.probot, "push", pushPayload(randomSha(), "refs/heads/feature"));
    await bot.app.queue.idle();
    github.done();
  });

  it("does no work twice for a redelivered webhook", async () => {
    const api = testObjectApi();
    const { clusterPath, dir } = await repoFor(api, () => ({ "a.yaml": configMap("a", { x: "1" }) }));
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyPushHead(github, sha);
    replyTarball(github, dir, sha);
    github.reply("POST", `${base}/check-runs`, 201, { id: 11 });
    github.reply("PATCH", `${base}/check-runs/11`, 200, { id: 11 }, { times: 2 });
    github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 2 });

    const bot = await startBot();
    const payload = pushPayload(sha);
    await receive(bot.probot, "push", payload, "delivery-1");
    await bot.app.queue.idle();
    await receive(bot.probot, "push", payload, "delivery-1");
    await bot.app.queue.idle();
    github.done(); // a second run would have made requests no reply was declared for
  });

  it("supersedes a queued commit with a newer one, saying so on the older commit", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await repoFor(api, () => ({ "a.yaml": configMap("a", { x: "1" }) }));
    const [first, second, third] = [randomSha(), randomSha(), randomSha()];
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]), 3);
    // The first commit's download is slow, so the others queue up behind it. Each push moves the head before
    // its webhook is sent; reads: push(first), reconcile(first), push(second), push(third), reconcile(third).
    const head = movingBranchHead(github, first, 5);
    replyTarball(github, dir, first, { delayMs: 1500 });
    replyTarball(github, dir, third);
    github.reply("POST", `${base}/check-runs`, 201, { id: 12 }, { times: 3 });
    const updates = github.reply("PATCH", `${base}/check-runs/12`, 200, { id: 12 }, { times: 5 });
    const s1 = github.reply("POST", `${base}/statuses/${first}`, 201, { id: 1 }, { times: 2 });
    const s2 = github.reply("POST", `${base}/statuses/${second}`, 201, { id: 1 });
    const s3 = github.reply("POST", `${base}/statuses/${third}`, 201, { id: 1 }, { times: 2 });

    const bot = await startBot();
    await receive(bot.probot, "push", pushPayload(first));
    // The first commit's run has read the head (and is fetching its tree) before the next push lands.
    await vi.waitFor(() => expect(head.route.requests).toHaveLength(2), { timeout: 10_000 });
    head.moveTo(second);
    await receive(bot.probot, "push", pushPayload(second));
    // Its push job has read the head; the third push's job runs after it (a branch's push jobs run in order).
    await vi.waitFor(() => expect(head.route.requests).toHaveLength(3), { timeout: 10_000 });
    head.moveTo(third);
    await receive(bot.probot, "push", pushPayload(third));
    await bot.app.queue.idle();
    github.done();

    expect(finalStatuses(s1)["gitops/dev"]?.state).toBe("success");
    // Superseded is not a failure: a non-failing status that says so, and a skipped check run.
    expect(finalStatuses(s2)["gitops/dev"]).toEqual({
      state: "success",
      description: `superseded by ${third.slice(0, 7)} before it ran; not applied`,
    });
    expect(finalStatuses(s3)["gitops/dev"]?.state).toBe("success");
    expect(updates.requests.some((r) => (r.body as { conclusion?: string }).conclusion === "skipped")).toBe(
      true,
    );
    expect(await exists(api, "v1", "ConfigMap", "a", ns)).toBe(true);
  });

  it("waits out GitHub's 403 and 429 rate-limit answers and still completes the run", async () => {
    const api = testObjectApi();
    const { clusterPath, dir } = await repoFor(api, () => ({ "a.yaml": configMap("a", { x: "1" }) }));
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyPushHead(github, sha);
    replyTarball(github, dir, sha);
    // A secondary rate limit on the check run, then a primary one on the first status: both are retried.
    const limited = github.reply(
      "POST",
      `${base}/check-runs`,
      429,
      {
        message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
      },
      { headers: { "retry-after": "1" } },
    );
    github.reply("POST", `${base}/check-runs`, 201, { id: 13 });
    github.reply("PATCH", `${base}/check-runs/13`, 200, { id: 13 }, { times: 2 });
    github.reply(
      "POST",
      `${base}/statuses/${sha}`,
      403,
      { message: "API rate limit exceeded for installation ID 1." },
      {
        headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.floor(Date.now() / 1000)) },
      },
    );
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 2 });

    // The production Octokit (throttling and retries on), with retry delays scaled from seconds to 10 ms.
    const Octokit = GitOpsOctokit.defaults(
      (o: NonNullable<ConstructorParameters<typeof GitOpsOctokit>[0]>) => ({
        ...o,
        throttle: { ...o.throttle, retryAfterBaseValue: 10 },
      }),
    );
    const bot = await startBot({ Octokit });
    await receive(bot.probot, "push", pushPayload(sha));
    await bot.app.queue.idle();
    github.done();

    expect(limited.requests).toHaveLength(1);
    expect(finalStatuses(statuses)["gitops/dev"]?.state).toBe("success");
  });

  it("records a GitHub deployment for a cluster bound to an environment", async () => {
    const api = testObjectApi();
    const { clusterPath, dir } = await repoFor(api, () => ({ "a.yaml": configMap("a", { x: "1" }) }));
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath, environment: "staging" }]));
    replyPushHead(github, sha);
    replyTarball(github, dir, sha);
    github.reply("POST", `${base}/check-runs`, 201, { id: 14 });
    github.reply("PATCH", `${base}/check-runs/14`, 200, { id: 14 }, { times: 2 });
    github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 2 });
    const deployment = github.reply("POST", `${base}/deployments`, 201, { id: 77 });
    const states = github.reply("POST", `${base}/deployments/77/statuses`, 201, { id: 1 }, { times: 2 });

    const bot = await startBot();
    await receive(bot.probot, "push", pushPayload(sha));
    await bot.app.queue.idle();
    github.done();

    expect(deployment.requests[0]!.body).toMatchObject({
      ref: sha,
      environment: "staging",
      auto_merge: false,
      required_contexts: [],
    });
    expect(states.requests.map((r) => (r.body as { state: string }).state)).toEqual([
      "in_progress",
      "success",
    ]);
  });

  it("works against GitHub Enterprise Server at its own API root", async () => {
    const api = testObjectApi();
    const { clusterPath, dir } = await repoFor(api, () => ({ "a.yaml": configMap("a", { x: "1" }) }));
    const sha = randomSha();
    github = mockGitHub({ baseUrl: "https://ghe.example.com/api/v3" });
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyPushHead(github, sha);
    replyTarball(github, dir, sha);
    github.reply("POST", `${base}/check-runs`, 201, { id: 15 });
    github.reply("PATCH", `${base}/check-runs/15`, 200, { id: 15 }, { times: 2 });
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 2 });

    const bot = await startBot({ baseUrl: "https://ghe.example.com/api/v3" });
    await receive(bot.probot, "push", pushPayload(sha));
    await bot.app.queue.idle();
    github.done(); // every request went to ghe.example.com/api/v3; api.github.com would have matched nothing

    expect(finalStatuses(statuses)["gitops/dev"]?.state).toBe("success");
  });

  it("does not apply a commit that is no longer the branch head (deliveries out of order)", async () => {
    const [old, newer] = [randomSha(), randomSha()];
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: "clusters/whatever" }]));
    // Read by the push job, which queues no reconcile (test/github/out-of-order-push.test.ts has both pushes).
    replyHeadReads(github, newer, 1);
    replyCompare(github, "ahead"); // the head really moved past it (not a stale read)
    const checks = github.reply("POST", `${base}/check-runs`, 201, { id: 16 });
    const statuses = github.reply("POST", `${base}/statuses/${old}`, 201, { id: 1 });

    const bot = await startBot();
    await receive(bot.probot, "push", pushPayload(old));
    await bot.app.queue.idle();
    github.done(); // no tarball was fetched

    // Superseded is not a failure: a non-failing status that says so, and a skipped check run.
    expect(finalStatuses(statuses)["gitops/dev"]).toEqual({
      state: "success",
      description: `superseded: master is at ${newer.slice(0, 7)} now; not applied`,
    });
    expect(checks.requests[0]!.body).toMatchObject({
      status: "completed",
      conclusion: "skipped",
      head_sha: old,
    });
  });

  it("does not leave a check queued when the bot shuts down before the run could be queued", async () => {
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: "clusters/dev" }]));
    replyHeadReads(github, sha, 1); // the push job's: the run is handed back before it reads the head
    github.reply("POST", `${base}/check-runs`, 201, { id: 17 });
    const check = github.reply("PATCH", `${base}/check-runs/17`, 200, { id: 17 });
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 });

    const bot = await startBot();
    await receive(bot.probot, "push", pushPayload(sha));
    await bot.app.close(); // SIGTERM arrives while the push is being read
    github.done();

    // Handed back: an error saying so, and a cancelled check run the next start's recovery re-runs.
    expect(finalStatuses(statuses)["gitops/dev"]).toEqual({
      state: "error",
      description: "the bot was shut down before this run started; it will be re-run",
    });
    expect(check.requests[0]!.body).toMatchObject({ status: "completed", conclusion: "cancelled" });
  });
});
