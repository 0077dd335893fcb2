// A job the queue gave up on (lost too often: its replica stopped while running it) ends with a final,
// failing report on GitHub: the reconcile's check run — the push job's, or the one a lost start created,
// found on GitHub as a restarted push job finds it — concluded failure and its cluster status `error`; a pull
// request's dry-run statuses `error`; a push one failed `gitops / push job` check run; a command a reply.
// Nothing else is written (scheduled runs and image reads: nothing at all). GitHub simulated (nock, every
// request checked against GitHub's OpenAPI description; an unexpected request fails the test).
import pino from "pino";
import { ProbotOctokit } from "probot";
import { afterEach, describe, expect, test } from "vitest";
import { ClusterConnections } from "../../src/cluster/connections.js";
import { operatorConfigSchema } from "../../src/config/operator-config.js";
import { PUSH_CHECK_RUN_NAME, reportAbandonedJob } from "../../src/github/jobs/abandoned-job.js";
import type { GitOpsJob, JobDeps, ReconcileJob } from "../../src/github/jobs/types.js";
import { InMemoryDeliveryLog } from "../../src/queue/delivery-log.js";
import { InMemoryQueue } from "../../src/queue/in-memory-queue.js";
import { abandonedReason } from "../../src/queue/redis-queue.js";
import { OWNER, REPO, randomSha, replyRepoConfig, repoConfigYaml } from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";

const octokit = () =>
  new ProbotOctokit({ auth: { token: "ghs_test" }, retry: { enabled: false }, throttle: { enabled: false } });

let github: GitHubMock | undefined;
afterEach(() => github?.cleanup());

function deps(): JobDeps {
  return {
    github: async () => octokit(),
    operator: operatorConfigSchema.parse({}),
    clusters: new ClusterConnections(),
    queue: new InMemoryQueue<GitOpsJob>({ run: async () => undefined }),
    deliveries: new InMemoryDeliveryLog(),
    log: pino({ level: "silent" }),
    githubHost: "github.com",
  };
}

const repoJob = {
  deliveryId: "d-1",
  installationId: 1,
  owner: OWNER,
  repo: REPO,
  defaultBranch: "master",
};
const reason = abandonedReason(2);
const checkRuns = (sha: string) => new RegExp(`^/repos/${OWNER}/${REPO}/commits/${sha}/check-runs$`);

/** A check run as GET /check-runs/{id} answers it, still open. */
const openCheckRun = (id: number) => ({
  id,
  name: "gitops / dev",
  external_id: "dev",
  status: "in_progress",
  conclusion: null,
});

function reconcile(sha: string, checkRunId: number): ReconcileJob {
  return {
    ...repoJob,
    type: "reconcile",
    branch: "master",
    sha,
    cluster: { name: "dev", path: "clusters/dev" },
    checkRunId,
  };
}

describe("a job the queue gave up on", () => {
  test("reconcile: the check run a lost start created is adopted and concluded failure, the status is error", async () => {
    github = mockGitHub();
    const sha = randomSha();
    // The push job could not create a check run (0): the lost start created 77, in progress.
    const listed = github.reply("GET", checkRuns(sha), 200, {
      total_count: 2,
      check_runs: [
        { id: 70, name: "gitops / dev", external_id: "dev", status: "completed", conclusion: "success" },
        { id: 77, name: "gitops / dev", external_id: "dev", status: "in_progress" },
      ],
    });
    const concluded = github.reply("PATCH", `/repos/${OWNER}/${REPO}/check-runs/77`, 200, { id: 77 });
    const status = github.reply("POST", `/repos/${OWNER}/${REPO}/statuses/${sha}`, 201, { id: 1 });

    await reportAbandonedJob(deps)(reconcile(sha, 0), reason);

    expect(listed.requests[0]?.path).toContain("check_name=gitops%20%2F%20dev");
    const body = concluded.requests[0]?.body as {
      status: string;
      conclusion: string;
      output: { title: string; summary: string };
    };
    expect(body).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(body.output.title).toBe(
      "dev: run lost 2 times (its replica stopped while running it); not known to be applied: push again or /gitops reconcile",
    );
    expect(body.output.summary).toContain("gave this run of `dev`");
    expect(body.output.summary).toContain("lost 2 times (its replica stopped while running it)");
    expect(body.output.summary).toContain("not known to be applied");
    expect(body.output.summary).toContain("`/gitops reconcile`");
    const statusBody = status.requests[0]?.body as { context: string; state: string; description: string };
    expect(statusBody).toMatchObject({ context: "gitops/dev", state: "error" });
    expect(statusBody.description).toMatch(/^run lost 2 times .*push again or \/gitops reconcile$/);
    expect(statusBody.description).not.toContain("\n");
    expect(statusBody.description.length).toBeLessThanOrEqual(140);
    // Nothing else: no second check run, no other status.
    expect(github.requests).toHaveLength(3);
    github.done();
  });

  test("reconcile: the push job's check run, still open on GitHub, is concluded failure", async () => {
    github = mockGitHub();
    const sha = randomSha();
    const read = github.reply("GET", `/repos/${OWNER}/${REPO}/check-runs/55`, 200, openCheckRun(55));
    const concluded = github.reply("PATCH", `/repos/${OWNER}/${REPO}/check-runs/55`, 200, { id: 55 });
    const status = github.reply("POST", `/repos/${OWNER}/${REPO}/statuses/${sha}`, 201, { id: 1 });

    await reportAbandonedJob(deps)(reconcile(sha, 55), reason);

    expect(concluded.requests[0]?.body).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(status.requests[0]?.body).toMatchObject({ context: "gitops/dev", state: "error" });
    expect(read.requests).toHaveLength(1);
    expect(github.requests).toHaveLength(3);
    github.done();
  });

  test("reconcile: a check run its last start completed keeps its conclusion; no status, no second check run", async () => {
    // The last start reported success, then its replica was lost before the queue heard of it: the run ended,
    // and an "error: lost" over its success would show something the cluster does not.
    github = mockGitHub();
    const sha = randomSha();
    github.reply("GET", `/repos/${OWNER}/${REPO}/check-runs/55`, 200, {
      ...openCheckRun(55),
      status: "completed",
      conclusion: "success",
    });

    await reportAbandonedJob(deps)(reconcile(sha, 55), reason);

    expect(github.requests.map((r) => r.method)).toEqual(["GET"]);
    github.done();
  });

  test("reconcile: a lost start's check run found completed on GitHub is left alone; nothing is created", async () => {
    github = mockGitHub();
    const sha = randomSha();
    github.reply("GET", checkRuns(sha), 200, {
      total_count: 2,
      check_runs: [
        { id: 80, name: "gitops / dev", external_id: "dev", status: "in_progress" },
        { id: 81, name: "gitops / dev", external_id: "dev", status: "completed", conclusion: "success" },
      ],
    });

    await reportAbandonedJob(deps)(reconcile(sha, 0), reason);

    expect(github.requests.map((r) => r.method)).toEqual(["GET"]);
    github.done();
  });

  test("reconcile bound to an environment: the deployments its lost starts left in progress get an error state", async () => {
    github = mockGitHub();
    const sha = randomSha();
    const bot = { login: "gitops-bot[bot]", id: 1, type: "Bot" };
    github.reply("GET", `/repos/${OWNER}/${REPO}/check-runs/55`, 200, openCheckRun(55));
    github.reply("PATCH", `/repos/${OWNER}/${REPO}/check-runs/55`, 200, { id: 55 });
    github.reply("POST", `/repos/${OWNER}/${REPO}/statuses/${sha}`, 201, { id: 1 });
    const listed = github.reply("GET", `/repos/${OWNER}/${REPO}/deployments`, 200, [
      // Two starts, two deployments: the second still in progress, the first ended by someone since.
      { id: 302, sha, environment: "staging", creator: bot, payload: { cluster: "dev" } },
      { id: 301, sha, environment: "staging", creator: bot, payload: { cluster: "dev" } },
      // Not this bot's, not this cluster's: never touched (and not even read).
      {
        id: 303,
        sha,
        environment: "staging",
        creator: { login: "octocat", id: 2, type: "User" },
        payload: {},
      },
      { id: 304, sha, environment: "staging", creator: bot, payload: { cluster: "prod" } },
    ]);
    github.reply("GET", `/repos/${OWNER}/${REPO}/deployments/302/statuses`, 200, [
      { id: 9, state: "in_progress" },
    ]);
    github.reply("GET", `/repos/${OWNER}/${REPO}/deployments/301/statuses`, 200, [
      { id: 8, state: "success" },
    ]);
    const errored = github.reply("POST", `/repos/${OWNER}/${REPO}/deployments/302/statuses`, 201, { id: 10 });

    const job = reconcile(sha, 55);
    await reportAbandonedJob(deps)({ ...job, cluster: { ...job.cluster, environment: "staging" } }, reason);

    expect(listed.requests[0]?.path).toContain(`sha=${sha}`);
    expect(listed.requests[0]?.path).toContain("environment=staging");
    expect(errored.requests[0]?.body).toMatchObject({
      state: "error",
      description: expect.stringMatching(/^run lost 2 times/),
    });
    expect(github.requests).toHaveLength(7);
    github.done();
  });

  test("reconcile: with no open check run on GitHub, one is opened and concluded failure (never two)", async () => {
    github = mockGitHub();
    const sha = randomSha();
    github.reply("GET", checkRuns(sha), 200, { total_count: 0, check_runs: [] });
    const created = github.reply("POST", `/repos/${OWNER}/${REPO}/check-runs`, 201, { id: 88 });
    const concluded = github.reply("PATCH", `/repos/${OWNER}/${REPO}/check-runs/88`, 200, { id: 88 });
    const status = github.reply("POST", `/repos/${OWNER}/${REPO}/statuses/${sha}`, 201, { id: 1 });

    await reportAbandonedJob(deps)(reconcile(sha, 0), reason);

    expect(created.requests).toHaveLength(1);
    expect(concluded.requests[0]?.body).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(status.requests[0]?.body).toMatchObject({ context: "gitops/dev", state: "error" });
    github.done();
  });

  test("pull request dry-run: an error status per cluster its base branch drives", async () => {
    github = mockGitHub();
    const headSha = randomSha();
    replyRepoConfig(
      github,
      repoConfigYaml([
        { name: "dev", path: "clusters/dev" },
        { name: "prod", path: "clusters/prod" },
        { name: "edge", path: "clusters/edge", branch: "edge" },
      ]),
    );
    const statuses = github.reply(
      "POST",
      `/repos/${OWNER}/${REPO}/statuses/${headSha}`,
      201,
      { id: 1 },
      {
        times: 2,
      },
    );

    await reportAbandonedJob(deps)(
      {
        ...repoJob,
        type: "diff",
        pullNumber: 7,
        baseBranch: "master",
        baseSha: randomSha(),
        headSha,
        fork: false,
      },
      reason,
    );

    expect(statuses.requests.map((r) => r.body)).toEqual([
      expect.objectContaining({ context: "gitops/diff/dev", state: "error" }),
      expect.objectContaining({ context: "gitops/diff/prod", state: "error" }),
    ]);
    expect(statuses.requests[0]?.body).toMatchObject({
      description:
        "dry-run lost 2 times (its replica stopped while running it); no verdict: push again or comment /gitops diff",
    });
    github.done();
  });

  test("push: one failed check run of its own, no cluster's status or check run touched", async () => {
    github = mockGitHub();
    const sha = randomSha();
    // The branch drives no cluster this bot allows: nothing to look at but the configuration.
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: "clusters/dev" }]));
    const created = github.reply("POST", `/repos/${OWNER}/${REPO}/check-runs`, 201, { id: 90 });

    await reportAbandonedJob(deps)(
      { ...repoJob, type: "push", branch: "master", sha, queuedAt: new Date().toISOString() },
      reason,
    );

    expect(created.requests[0]?.body).toMatchObject({
      name: PUSH_CHECK_RUN_NAME,
      head_sha: sha,
      status: "completed",
      conclusion: "failure",
    });
    expect(JSON.stringify(created.requests[0]?.body)).toContain("/gitops reconcile");
    expect(github.requests).toHaveLength(2);
    github.done();
  });

  const withClusters = (): JobDeps => ({
    ...deps(),
    operator: operatorConfigSchema.parse({
      clusters: ["dev", "prod"].map((name) => ({
        name,
        kubeconfig: "/nonexistent/kubeconfig",
        repositories: [`${OWNER}/${REPO}`],
      })),
    }),
  });
  const devAndProd = repoConfigYaml([
    { name: "dev", path: "clusters/dev" },
    { name: "prod", path: "clusters/prod" },
  ]);
  const queuedAt = new Date(Date.now() - 60_000).toISOString();
  const pushJob = (sha: string): GitOpsJob => ({ ...repoJob, type: "push", branch: "master", sha, queuedAt });
  const clusterCheckRun = (
    sha: string,
    cluster: string,
    run: { status: string; conclusion?: string; started_at?: string },
  ) =>
    github?.reply("GET", checkRuns(sha), 200, {
      total_count: 1,
      check_runs: [
        {
          id: 100,
          name: `gitops / ${cluster}`,
          external_id: cluster,
          started_at: new Date(Date.now() - 30_000).toISOString(),
          ...run,
        },
      ],
    });

  test("push: lost after every cluster's run started, its own check run is neutral, not a failure", async () => {
    github = mockGitHub();
    const sha = randomSha();
    replyRepoConfig(github, devAndProd);
    const dev = clusterCheckRun(sha, "dev", { status: "completed", conclusion: "success" });
    const prod = clusterCheckRun(sha, "prod", { status: "in_progress" });
    const created = github.reply("POST", `/repos/${OWNER}/${REPO}/check-runs`, 201, { id: 91 });

    // With the app's id, GitHub lists only this app's check runs (another app's "gitops / dev" is not ours).
    await reportAbandonedJob(() => ({ ...withClusters(), appId: 4242 }))(pushJob(sha), reason);

    expect(dev?.requests[0]?.path).toContain("check_name=gitops%20%2F%20dev");
    expect(dev?.requests[0]?.path).toContain("app_id=4242");
    expect(prod?.requests[0]?.path).toContain("check_name=gitops%20%2F%20prod");
    const body = created.requests[0]?.body as {
      conclusion: string;
      output: { title: string; summary: string };
    };
    expect(body).toMatchObject({ name: PUSH_CHECK_RUN_NAME, head_sha: sha, conclusion: "neutral" });
    expect(body.output.title).toContain("after every cluster's run reported");
    expect(body.output.summary).toContain("`dev`, `prod`");
    github.done();
  });

  test("push: lost before one cluster's run started, a failure naming that cluster", async () => {
    github = mockGitHub();
    const sha = randomSha();
    replyRepoConfig(github, devAndProd);
    clusterCheckRun(sha, "dev", { status: "completed", conclusion: "success" });
    clusterCheckRun(sha, "prod", { status: "queued" });
    const created = github.reply("POST", `/repos/${OWNER}/${REPO}/check-runs`, 201, { id: 92 });

    await reportAbandonedJob(withClusters)(pushJob(sha), reason);

    const body = created.requests[0]?.body as { conclusion: string; output: { summary: string } };
    expect(body.conclusion).toBe("failure");
    expect(body.output.summary).toContain("No report of this push yet when the job was given up: `prod`.");
    expect(body.output.summary).not.toContain("`dev`");
    github.done();
  });

  test("push: a check run of the same commit from before the job was queued is not its run", async () => {
    // `/gitops reconcile` of a commit a push applied an hour ago: that push's check run says nothing of this job.
    github = mockGitHub();
    const sha = randomSha();
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: "clusters/dev" }]));
    clusterCheckRun(sha, "dev", {
      status: "completed",
      conclusion: "success",
      started_at: new Date(Date.now() - 3_600_000).toISOString(),
    });
    const created = github.reply("POST", `/repos/${OWNER}/${REPO}/check-runs`, 201, { id: 94 });

    await reportAbandonedJob(withClusters)(pushJob(sha), reason);

    const body = created.requests[0]?.body as { conclusion: string; output: { summary: string } };
    expect(body.conclusion).toBe("failure");
    expect(body.output.summary).toContain("No report of this push yet when the job was given up: `dev`.");
    github.done();
  });

  test("push: `/gitops reconcile <cluster>` is judged by that cluster's run alone", async () => {
    github = mockGitHub();
    const sha = randomSha();
    replyRepoConfig(github, devAndProd);
    // Only prod's check runs are read (a read of dev's would match nothing and fail the test).
    const prod = clusterCheckRun(sha, "prod", { status: "completed", conclusion: "skipped" });
    const created = github.reply("POST", `/repos/${OWNER}/${REPO}/check-runs`, 201, { id: 95 });

    await reportAbandonedJob(withClusters)({ ...pushJob(sha), onlyCluster: "prod" } as GitOpsJob, reason);

    expect(prod?.requests).toHaveLength(1);
    expect(created.requests[0]?.body).toMatchObject({ conclusion: "neutral" });
    github.done();
  });

  test("push: a job queued by a version that did not record its time: the failure, nothing read", async () => {
    github = mockGitHub();
    const sha = randomSha();
    const created = github.reply("POST", `/repos/${OWNER}/${REPO}/check-runs`, 201, { id: 96 });

    await reportAbandonedJob(withClusters)({ ...repoJob, type: "push", branch: "master", sha }, reason);

    expect(created.requests[0]?.body).toMatchObject({ conclusion: "failure" });
    expect(github.requests).toHaveLength(1);
    github.done();
  });

  test("push: when GitHub cannot say which runs started, the failure as before", async () => {
    github = mockGitHub();
    const sha = randomSha();
    github.reply("GET", /^\/repos\/Codertocat\/Hello-World\/contents\/\.github(%2F|\/)gitops\.yaml$/, 500, {
      message: "Server Error",
    });
    const created = github.reply("POST", `/repos/${OWNER}/${REPO}/check-runs`, 201, { id: 93 });

    await reportAbandonedJob(withClusters)(pushJob(sha), reason);

    expect(created.requests[0]?.body).toMatchObject({ name: PUSH_CHECK_RUN_NAME, conclusion: "failure" });
    github.done();
  });

  test("command: a reply to its comment", async () => {
    github = mockGitHub();
    const reply = github.reply("POST", `/repos/${OWNER}/${REPO}/issues/12/comments`, 201, { id: 5 });

    await reportAbandonedJob(deps)(
      {
        ...repoJob,
        type: "command",
        issueNumber: 12,
        isPullRequest: true,
        commentId: 99,
        user: "octocat",
        command: { verb: "reconcile" },
      },
      reason,
    );

    expect(reply.requests[0]?.body).toEqual({
      body: "@octocat gitops-bot gave `/gitops reconcile` up: it was lost 2 times (its replica stopped while running it). It may have partly run; comment it again to retry.",
    });
    github.done();
  });

  test("scheduled run and image read: nothing is written", async () => {
    github = mockGitHub();
    await reportAbandonedJob(deps)(
      {
        ...repoJob,
        type: "scheduled",
        branch: "master",
        cluster: { name: "dev", path: "clusters/dev" },
        due: ["Kustomization/flux-system/apps"],
      },
      reason,
    );
    await reportAbandonedJob(deps)({ ...repoJob, type: "images", scan: "all" }, reason);
    expect(github.requests).toHaveLength(0);
    github.done();
  });
});
