// Pushes delivered out of order, end to end: GitHub may deliver an older push after the branch head's. The
// older push must neither be applied nor supersede the head's waiting reconcile (which left neither applied);
// a failed read of the head must not lose a push. GitHub is the OpenAPI-checked mock, the cluster is real.
import { cpSync } from "node:fs";
import { pino } from "pino";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { ClusterConnections } from "../../src/cluster/connections.js";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { operatorConfigSchema } from "../../src/config/operator-config.js";
import { runPushJob } from "../../src/github/jobs/push-job.js";
import type { GitOpsJob, JobDeps, PushJob } from "../../src/github/jobs/types.js";
import { InMemoryDeliveryLog } from "../../src/queue/delivery-log.js";
import { InMemoryQueue } from "../../src/queue/in-memory-queue.js";
import {
  failHeadReads,
  movingBranchHead,
  replyCompare,
  replyHeadReads,
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
  type TestBot,
} from "../support/github-app.js";
import { type GitHubMock, type MockedRoute, mockGitHub } from "../support/github-mock.js";
import { exists, testObjectApi } from "../support/kube.js";
import { receive } from "../support/probot.js";
import { configMap, makeRepo, writeTree } from "../support/repo-tree.js";

const base = `/repos/${OWNER}/${REPO}`;
let github: GitHubMock | undefined;
afterEach(() => github?.cleanup());

/** The `version` of ConfigMap `a`, or undefined when it does not exist. */
async function versionOf(api: RawObjectApi, ns: string): Promise<string | undefined> {
  const cm = (await api.read({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "a", namespace: ns },
  })) as {
    data?: Record<string, string>;
  };
  return cm.data?.version;
}

/** The commits whose reconcile jobs started, in order. */
function reconcilesStarted(bot: TestBot): string[] {
  const started: string[] = [];
  bot.app.queue.observe?.({
    started: (job: GitOpsJob) => {
      if (job.type === "reconcile") started.push(job.sha);
    },
  });
  return started;
}

const bodies = (route: MockedRoute) => route.requests.map((r) => JSON.stringify(r.body));

describe("pushes delivered out of order", () => {
  it("applies the head when an older push arrives after it, and reports the older one superseded", async () => {
    const api = testObjectApi();
    // P: a commit already being applied (slowly), holding the cluster's queue key. Then B and A are pushed, in
    // that order, but GitHub delivers A's push (the head) before B's.
    const {
      ns,
      clusterPath,
      dir: dirP,
    } = await appsRepo(api, "ooo", () => ({
      "a.yaml": configMap("a", { version: "p" }),
    }));
    const dirA = makeRepo({});
    cpSync(dirP, dirA, { recursive: true });
    writeTree(dirA, { [`apps/${ns}/a.yaml`]: configMap("a", { version: "a" }) });
    const [p, a, b] = [randomSha(), randomSha(), randomSha()];

    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]), 3);
    // Reads: push(P), reconcile(P), push(A), push(B), reconcile(A). B's tree is never fetched (no reply for it).
    const head = movingBranchHead(github, p, 5);
    // B's push job reads A: GitHub's compare says A is ahead of B (B is old), not a stale read.
    const compare = replyCompare(github, "ahead", 1);
    replyTarball(github, dirP, p, { delayMs: 3000 });
    replyTarball(github, dirA, a);
    const checkP = github.reply("POST", `${base}/check-runs`, 201, { id: 41 });
    const checkA = github.reply("POST", `${base}/check-runs`, 201, { id: 42 });
    const checkB = github.reply("POST", `${base}/check-runs`, 201, { id: 43 });
    github.reply("PATCH", `${base}/check-runs/41`, 200, { id: 41 }, { times: 2 });
    const updatesA = github.reply("PATCH", `${base}/check-runs/42`, 200, { id: 42 }, { times: 2 });
    const statusesP = github.reply("POST", `${base}/statuses/${p}`, 201, { id: 1 }, { times: 2 });
    const statusesA = github.reply("POST", `${base}/statuses/${a}`, 201, { id: 2 }, { times: 2 });
    const statusesB = github.reply("POST", `${base}/statuses/${b}`, 201, { id: 3 });

    const bot = await startBot();
    const started = reconcilesStarted(bot);
    const dropped: string[] = [];
    bot.app.queue.observe?.({
      superseded: (job) => void dropped.push(job.type === "reconcile" ? job.sha : job.type),
    });
    await receive(bot.probot, "push", pushExample(p));
    // P's run has read the head and is fetching its tree (3 s): the key stays held while A and B arrive.
    await vi.waitFor(() => expect(head.route.requests).toHaveLength(2), { timeout: 10_000 });
    head.moveTo(b);
    head.moveTo(a);
    await receive(bot.probot, "push", pushExample(a));
    await receive(bot.probot, "push", pushExample(b));
    // Both push jobs ran while P's tree was still downloading: A's reconcile was waiting when B's push was read.
    await vi.waitFor(() => expect(checkB.requests).toHaveLength(1), { timeout: 10_000 });
    expect(head.route.requests).toHaveLength(4);
    expect(started).toEqual([p]);
    await bot.app.queue.idle();
    github.done(); // B's tree was never fetched, and nothing wrote to B's check runs but the one completed

    // The head is applied, and reported so.
    expect(await versionOf(api, ns)).toBe("a");
    expect(started).toEqual([p, a]);
    expect(dropped).toEqual([]);
    expect(finalStatuses(statusesP)["gitops/dev"]?.state).toBe("success");
    expect(finalStatuses(statusesA)).toEqual({
      "gitops/dev": { state: "success", description: expect.stringMatching(/^1 Kustomization ready in /) },
      "gitops/dev/apps": { state: "success", description: expect.stringMatching(/^1 configured/) },
    });
    expect(checkA.requests[0]?.body).toMatchObject({ head_sha: a, status: "queued" });
    expect(
      updatesA.requests.map((r) => (r.body as { status?: string; conclusion?: string }).conclusion),
    ).toEqual([undefined, "success"]);
    // GitHub never shows the head as superseded.
    for (const text of [...bodies(statusesA), ...bodies(checkA), ...bodies(updatesA)]) {
      expect(text).not.toMatch(/supersede|skipped/);
    }

    expect(compare.requests.map((r) => r.path.split("?")[0])).toEqual([`${base}/compare/${b}...${a}`]);
    // B: one completed, skipped check run and a non-failing status, both naming the head; no queued check run.
    expect(checkP.requests[0]?.body).toMatchObject({ head_sha: p });
    expect(checkB.requests[0]?.body).toMatchObject({
      head_sha: b,
      name: "gitops / dev",
      status: "completed",
      conclusion: "skipped",
      output: { title: `dev: superseded: master is at ${a.slice(0, 7)} now; not applied` },
    });
    expect((checkB.requests[0]!.body as { output: { summary: string } }).output.summary).toContain(a);
    expect(finalStatuses(statusesB)).toEqual({
      "gitops/dev": {
        state: "success",
        description: `superseded: master is at ${a.slice(0, 7)} now; not applied`,
      },
    });
  });

  it("still queues and applies a push when GitHub fails the head read", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await appsRepo(api, "ooo", () => ({
      "a.yaml": configMap("a", { version: "1" }),
    }));
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    // The push job's read fails; the reconcile's own read (before applying) answers.
    const failed = failHeadReads(github, 1);
    const read = replyHeadReads(github, sha, 1);
    replyTarball(github, dir, sha);
    const created = github.reply("POST", `${base}/check-runs`, 201, { id: 44 });
    const updated = github.reply("PATCH", `${base}/check-runs/44`, 200, { id: 44 }, { times: 2 });
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 2 });

    const bot = await startBot();
    const started = reconcilesStarted(bot);
    await receive(bot.probot, "push", pushExample(sha));
    await bot.app.queue.idle();
    github.done();

    expect(failed.requests).toHaveLength(1);
    expect(read.requests).toHaveLength(1);
    expect(started).toEqual([sha]);
    expect(await exists(api, "v1", "ConfigMap", "a", ns)).toBe(true);
    expect(await versionOf(api, ns)).toBe("1");
    expect(created.requests[0]?.body).toMatchObject({ head_sha: sha, status: "queued" });
    expect((updated.requests[1]!.body as { conclusion: string }).conclusion).toBe("success");
    expect(finalStatuses(statuses)["gitops/dev"]?.state).toBe("success");
  });
  it("applies a push whose head reads lag it (GitHub's compare says the read head is behind): a stale read drops nothing", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await appsRepo(api, "ooo", () => ({
      "a.yaml": configMap("a", { version: "1" }),
    }));
    const [sha, parent] = [randomSha(), randomSha()];
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    // Both reads (the push job's, the reconcile's) still answer the commit before the push.
    const reads = replyHeadReads(github, parent, 2);
    const compares = replyCompare(github, "behind", 2);
    replyTarball(github, dir, sha);
    const created = github.reply("POST", `${base}/check-runs`, 201, { id: 45 });
    const updated = github.reply("PATCH", `${base}/check-runs/45`, 200, { id: 45 }, { times: 2 });
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 2 });

    const bot = await startBot();
    const started = reconcilesStarted(bot);
    await receive(bot.probot, "push", pushExample(sha));
    await bot.app.queue.idle();
    github.done();

    expect(reads.requests).toHaveLength(2);
    expect(compares.requests.map((r) => r.path.split("?")[0])).toEqual([
      `${base}/compare/${sha}...${parent}`,
      `${base}/compare/${sha}...${parent}`,
    ]);
    expect(started).toEqual([sha]);
    expect(await versionOf(api, ns)).toBe("1");
    expect(created.requests[0]?.body).toMatchObject({ head_sha: sha, status: "queued" });
    expect((updated.requests[1]!.body as { conclusion: string }).conclusion).toBe("success");
    for (const text of [...bodies(statuses), ...bodies(updated)])
      expect(text).not.toMatch(/supersede|skipped/);
  });
});

/**
 * A push job restarted after its replica was lost (the Redis queue says so; run here directly with the app's
 * own pieces) finds the branch moved: it closes what its lost start left rather than adding a check run.
 */
describe("a restarted push job behind the head", () => {
  const restartedPush = async (lostStart: { id: number; status: string; conclusion: string | null }[]) => {
    const [sha, head] = [randomSha(), randomSha()];
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: "clusters/dev" }]));
    replyHeadReads(github, head, 1);
    replyCompare(github, "ahead", 1);
    const listed = github.reply("GET", `${base}/commits/${sha}/check-runs`, 200, {
      total_count: lostStart.length,
      check_runs: lostStart.map((c) => ({ ...c, name: "gitops / dev", head_sha: sha, external_id: "dev" })),
    });
    const enqueued: GitOpsJob[] = [];
    const bot = await startBot();
    const operator = operatorConfigSchema.parse({
      clusters: [{ name: "dev", kubeconfig: inject("kubeconfigPath"), repositories: [`${OWNER}/${REPO}`] }],
      images: { enabled: false },
    });
    const queue = new InMemoryQueue<GitOpsJob>({ run: async (job) => void enqueued.push(job) });
    const deps: JobDeps = {
      github: (id) => bot.probot.auth(id),
      operator,
      clusters: new ClusterConnections(),
      queue,
      deliveries: new InMemoryDeliveryLog(),
      log: pino({ level: "silent" }),
      githubHost: "github.com",
    };
    const job: PushJob = {
      type: "push",
      deliveryId: "lost-start",
      installationId: INSTALLATION_ID,
      owner: OWNER,
      repo: REPO,
      defaultBranch: "master",
      branch: "master",
      sha,
    };
    return {
      sha,
      head,
      listed,
      run: async () => {
        await runPushJob(job, deps, { restarted: true });
        await queue.idle();
        expect(enqueued).toEqual([]); // no reconcile, whatever the lost start left
      },
    };
  };
  const superseded = (head: string) => `superseded: master is at ${head.slice(0, 7)} now; not applied`;

  const combinedStatus = (sha: string, statuses: { context: string; state: string; description: string }[]) =>
    github!.reply("GET", `${base}/commits/${sha}/status`, 200, {
      state: statuses.length > 0 ? "success" : "pending",
      sha,
      total_count: statuses.length,
      statuses: statuses.map((s, i) => ({ id: i + 1, ...s })),
    });

  it("closes the queued check run its lost start left, as superseded", async () => {
    const push = await restartedPush([{ id: 51, status: "queued", conclusion: null }]);
    combinedStatus(push.sha, [{ context: "gitops/dev", state: "pending", description: "queued" }]);
    const closed = github!.reply("PATCH", `${base}/check-runs/51`, 200, { id: 51 });
    const statuses = github!.reply("POST", `${base}/statuses/${push.sha}`, 201, { id: 1 });
    await push.run();
    github!.done(); // no second check run was created
    expect(push.listed.requests[0]?.path).toContain("check_name=gitops");
    expect(closed.requests[0]?.body).toMatchObject({ status: "completed", conclusion: "skipped" });
    expect(finalStatuses(statuses)).toEqual({
      "gitops/dev": { state: "success", description: superseded(push.head) },
    });
  });

  it("closes the check run, but writes no second status, when the lost start wrote its final one", async () => {
    // The lost start found the branch moved too and wrote its status (the head it saw then); the replica went
    // before its check run was closed, or while the close was in flight.
    const push = await restartedPush([{ id: 55, status: "completed", conclusion: "skipped" }]);
    const read = combinedStatus(push.sha, [
      { context: "gitops/dev", state: "success", description: superseded(randomSha()) },
    ]);
    const closed = github!.reply("PATCH", `${base}/check-runs/55`, 200, { id: 55 });
    await push.run();
    github!.done(); // no POST of a status
    expect(read.requests).toHaveLength(1);
    expect(closed.requests[0]?.body).toMatchObject({ status: "completed", conclusion: "skipped" });
  });

  it("writes nothing when a run already completed the lost start's check run", async () => {
    const push = await restartedPush([{ id: 52, status: "completed", conclusion: "success" }]);
    await push.run();
    github!.done(); // neither a check run nor a status: the commit's run reported it
  });

  it("leaves a check run in progress to the reconcile running it: nothing written", async () => {
    // The lost start queued the reconcile, which another replica runs now (it may have found the branch at
    // this commit and be applying it): only that run may conclude its check run and status.
    const push = await restartedPush([{ id: 54, status: "in_progress", conclusion: null }]);
    await push.run();
    github!.done(); // neither a check run nor a status
  });

  it("creates the superseded check run when the lost start left none", async () => {
    const push = await restartedPush([]);
    combinedStatus(push.sha, []);
    const created = github!.reply("POST", `${base}/check-runs`, 201, { id: 53 });
    github!.reply("POST", `${base}/statuses/${push.sha}`, 201, { id: 1 });
    await push.run();
    github!.done();
    expect(created.requests[0]?.body).toMatchObject({ head_sha: push.sha, conclusion: "skipped" });
  });
});
