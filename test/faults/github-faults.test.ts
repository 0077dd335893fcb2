// Faults on GitHub's side: its status API failing for a window, rate limits (429 and 403, with Retry-After or
// x-ratelimit-reset), a burst of pushes with redeliveries. GitHub is simulated (nock); the cluster is real. The
// push must be applied whatever GitHub answers, and the final statuses and check runs must arrive once it
// recovers.
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { GitOpsOctokit } from "../../src/github/octokit.js";
import { movingBranchHead, replyPushHead } from "../support/branch-head-nock.js";
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
import { type GitHubMock, type MockedRoute, mockGitHub } from "../support/github-mock.js";
import { exists, testObjectApi } from "../support/kube.js";
import { receive } from "../support/probot.js";
import { configMap } from "../support/repo-tree.js";

const base = `/repos/${OWNER}/${REPO}`;
let github: GitHubMock | undefined;
afterEach(() => github?.cleanup());

const repoFor = (api: RawObjectApi) =>
  appsRepo(api, "fault", () => ({
    "a.yaml": configMap("a", { x: "1" }),
    "b.yaml": configMap("b", { y: "2" }),
  }));

/** When `route` has seen `n` requests (polled), as performance.now(). */
async function whenRequests(route: MockedRoute, n: number, timeoutMs = 60_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (route.requests.length < n) {
    if (performance.now() > deadline)
      throw new Error(`${route.description}: ${route.requests.length}/${n} requests`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now();
}

// The production Octokit (throttling, retries, rate-limit waits on), as `npm start` runs it.
const ProductionOctokit = GitOpsOctokit;

describe("GitHub's status API fails for a window", () => {
  it("applies the push at once and writes the final statuses and check run once GitHub recovers", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await repoFor(api);
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyPushHead(github, sha);
    replyTarball(github, dir, sha);
    github.reply("POST", `${base}/check-runs`, 201, { id: 41 });
    const check = github.reply("PATCH", `${base}/check-runs/41`, 200, { id: 41 }, { times: 2 });
    // GitHub answers 500 to the first 6 status writes (with the production Octokit's own retries inside).
    const failing = github.reply(
      "POST",
      `${base}/statuses/${sha}`,
      500,
      { message: "Server Error" },
      { times: 6 },
    );
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 2 });

    const bot = await startBot({ Octokit: ProductionOctokit });
    const pushed = performance.now();
    await receive(bot.probot, "push", pushExample(sha));
    // Applied while GitHub still fails: the report never gates the work.
    const deadline = performance.now() + 30_000;
    while (!(await exists(api, "v1", "ConfigMap", "b", ns))) {
      if (performance.now() > deadline) throw new Error("the push was not applied while GitHub failed");
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(failing.requests.length).toBeLessThan(6);
    const recovered = await whenRequests(failing, 6, 120_000);
    const final = await whenRequests(statuses, 2, 120_000);
    await bot.app.queue.idle();
    github.done();
    console.log(
      `500 window: applied during the outage; outage ${Math.round(recovered - pushed)} ms, final statuses ${Math.round(final - recovered)} ms after it ended`,
    );
    expect(finalStatuses(statuses)).toEqual({
      "gitops/dev": { state: "success", description: expect.stringMatching(/^1 Kustomization ready/) },
      "gitops/dev/apps": { state: "success", description: expect.stringMatching(/^2 created/) },
    });
    expect(check.requests[1]?.body).toMatchObject({ status: "completed", conclusion: "success" });
    await bot.app.close();
  }, 180_000);
});

describe("GitHub fails while the push job writes its queued reports (reports.pendingStatuses on)", () => {
  it("applies the push anyway; the check run and the final statuses arrive once GitHub recovers, never overtaken by 'queued'", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await repoFor(api);
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyPushHead(github, sha);
    replyTarball(github, dir, sha);
    // The queued check run (push job) and the first two creations by the run fail; the third is created.
    const refused = github.reply(
      "POST",
      `${base}/check-runs`,
      500,
      { message: "Server Error" },
      { times: 3 },
    );
    const created = github.reply("POST", `${base}/check-runs`, 201, { id: 51 });
    const check = github.reply("PATCH", `${base}/check-runs/51`, 200, { id: 51 });
    // Statuses fail for a window: the "queued" and the first results.
    const failing = github.reply(
      "POST",
      `${base}/statuses/${sha}`,
      500,
      { message: "Server Error" },
      { times: 5 },
    );
    // "queued" and "reconciling" may be sent once GitHub answers, or dropped as overtaken.
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 6 });

    const bot = await startBot({
      operator: {
        clusters: [{ name: "dev", kubeconfig: inject("kubeconfigPath"), repositories: [`${OWNER}/${REPO}`] }],
        images: { enabled: false },
        reports: { pendingStatuses: true },
      },
    });
    const pushed = performance.now();
    await receive(bot.probot, "push", pushExample(sha));
    const deadline = performance.now() + 30_000;
    while (!(await exists(api, "v1", "ConfigMap", "b", ns))) {
      if (performance.now() > deadline) throw new Error("the push was not applied while GitHub failed");
      await new Promise((r) => setTimeout(r, 50));
    }
    const applied = performance.now();
    const recovered = await whenRequests(failing, 5, 120_000);
    await whenRequests(check, 1, 120_000);
    // The final statuses: gitops/dev and gitops/dev/apps, whatever happened to "queued".
    const deadlineFinal = performance.now() + 120_000;
    while (
      finalStatuses(statuses)["gitops/dev"]?.state !== "success" ||
      !finalStatuses(statuses)["gitops/dev/apps"]
    ) {
      if (performance.now() > deadlineFinal) throw new Error(JSON.stringify(finalStatuses(statuses)));
      await new Promise((r) => setTimeout(r, 20));
    }
    const final = performance.now();
    await bot.app.queue.idle();
    console.log(
      `pendingStatuses, 500s on check runs and statuses: applied ${Math.round(applied - pushed)} ms after the push (during the outage); outage ended ${Math.round(recovered - pushed)} ms after it; final statuses and check run ${Math.round(final - recovered)} ms after it ended`,
    );
    expect(refused.requests).toHaveLength(3);
    expect(created.requests[0]?.body).toMatchObject({ head_sha: sha, status: "in_progress" });
    expect(check.requests[0]?.body).toMatchObject({ status: "completed", conclusion: "success" });
    // The last write per context is final: a retried "queued" never lands after the result.
    expect(finalStatuses(statuses)).toEqual({
      "gitops/dev": { state: "success", description: expect.stringMatching(/^1 Kustomization ready/) },
      "gitops/dev/apps": { state: "success", description: expect.stringMatching(/^2 created/) },
    });
    const contexts = [...failing.requests, ...statuses.requests].map(
      (r) => (r.body as { context: string; state: string }).context,
    );
    expect(contexts.filter((c) => c === "gitops/dev/apps").length).toBeGreaterThan(0);
    await bot.app.close();
  }, 180_000);
});

describe("rate limits: 403 and 429 alike, waited out as GitHub asks", () => {
  it("waits Retry-After on a 429 and x-ratelimit-reset on a 403, then completes the report", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await repoFor(api);
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyPushHead(github, sha);
    replyTarball(github, dir, sha);
    // A 403 primary limit on the check run (the first write), resetting in 3 s.
    const reset = Math.ceil(Date.now() / 1000) + 3;
    const forbidden = github.reply(
      "POST",
      `${base}/check-runs`,
      403,
      { message: "API rate limit exceeded for installation ID 1." },
      { headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) } },
    );
    const created = github.reply("POST", `${base}/check-runs`, 201, { id: 42 });
    const check = github.reply("PATCH", `${base}/check-runs/42`, 200, { id: 42 }, { times: 2 });
    // A plain 429 (no "secondary rate limit" text) with Retry-After: 3 on the first status.
    const limited = github.reply(
      "POST",
      `${base}/statuses/${sha}`,
      429,
      { message: "Too Many Requests" },
      { headers: { "retry-after": "3" } },
    );
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 2 });
    const bot = await startBot({ Octokit: ProductionOctokit });
    await receive(bot.probot, "push", pushExample(sha));
    const first403 = await whenRequests(forbidden, 1);
    const afterReset = await whenRequests(created, 1);
    const afterResetWall = Date.now();
    const first429 = await whenRequests(limited, 1);
    const retried = await whenRequests(statuses, 1);
    await bot.app.queue.idle();
    github.done();
    console.log(
      `403 x-ratelimit-reset in 3 s: retried ${Math.round(afterReset - first403)} ms later, ${afterResetWall - reset * 1000} ms past the reset; 429 Retry-After 3: retried after ${Math.round(retried - first429)} ms`,
    );
    expect(retried - first429).toBeGreaterThanOrEqual(2_950);
    expect(retried - first429).toBeLessThan(6_000);
    expect(afterResetWall).toBeGreaterThanOrEqual(reset * 1000);
    expect(finalStatuses(statuses)["gitops/dev"]?.state).toBe("success");
    expect(check.requests[1]?.body).toMatchObject({ status: "completed", conclusion: "success" });
    expect(await exists(api, "v1", "ConfigMap", "a", ns)).toBe(true);
    await bot.app.close();
  }, 60_000);
});

describe("superseded commits and redelivered pushes", () => {
  it("marks a superseded commit skipped and non-failing, and gives a redelivered push no second check run", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await repoFor(api);
    const [first, second, third] = [randomSha(), randomSha(), randomSha()];
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    // Pushes: first, second, third, and third delivered again under a new delivery id.
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]), 4);
    // The redelivered third commit is reconciled once: its second job replaces the first while it waits. Each
    // push moves the head before its webhook; reads: push(first), reconcile(first), push(second), push(third)
    // twice, reconcile(third).
    const head = movingBranchHead(github, first, 6);
    replyTarball(github, dir, first, { delayMs: 1500 });
    replyTarball(github, dir, third);
    const created = [43, 44, 45].map((id) => github!.reply("POST", `${base}/check-runs`, 201, { id }));
    const u1 = github.reply("PATCH", `${base}/check-runs/43`, 200, { id: 43 }, { times: 2 });
    const u2 = github.reply("PATCH", `${base}/check-runs/44`, 200, { id: 44 });
    const u3 = github.reply("PATCH", `${base}/check-runs/45`, 200, { id: 45 }, { times: 2 });
    const s1 = github.reply("POST", `${base}/statuses/${first}`, 201, { id: 1 }, { times: 2 });
    const s2 = github.reply("POST", `${base}/statuses/${second}`, 201, { id: 1 });
    const s3 = github.reply("POST", `${base}/statuses/${third}`, 201, { id: 1 }, { times: 2 });

    const bot = await startBot();
    await receive(bot.probot, "push", pushExample(first));
    // The first commit's run has read the head (and is fetching its tree) before the next push lands.
    await vi.waitFor(() => expect(head.route.requests).toHaveLength(2), { timeout: 10_000 });
    head.moveTo(second);
    await receive(bot.probot, "push", pushExample(second));
    await vi.waitFor(() => expect(head.route.requests).toHaveLength(3), { timeout: 10_000 });
    head.moveTo(third);
    await receive(bot.probot, "push", pushExample(third), "third-1");
    await receive(bot.probot, "push", pushExample(third), "third-2");
    await bot.app.queue.idle();
    github.done();

    // One check run per commit: the redelivery of the third reused the open one.
    expect(created.map((c) => (c.requests[0]?.body as { head_sha?: string } | undefined)?.head_sha)).toEqual([
      first,
      second,
      third,
    ]);
    expect(finalStatuses(s2)["gitops/dev"]).toEqual({
      state: "success",
      description: `superseded by ${third.slice(0, 7)} before it ran; not applied`,
    });
    expect(u2.requests[0]?.body).toMatchObject({ status: "completed", conclusion: "skipped" });
    expect(u1.requests[1]?.body).toMatchObject({ status: "completed", conclusion: "success" });
    expect(u3.requests[1]?.body).toMatchObject({ status: "completed", conclusion: "success" });
    expect(finalStatuses(s1)["gitops/dev"]?.state).toBe("success");
    expect(finalStatuses(s3)["gitops/dev"]?.state).toBe("success");
    expect(await exists(api, "v1", "ConfigMap", "a", ns)).toBe(true);
    await bot.app.close();
  }, 60_000);
});
