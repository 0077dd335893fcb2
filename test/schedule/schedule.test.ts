// The reconcile schedule through the GitHub App, on the real API server, with simulated time: objects are
// reconciled again every spec.interval from the branch head (read with If-None-Match; a 304 and nothing written
// when nothing changed), a suspended Kustomization is left alone and says so, a new chart version in range is
// upgraded to without a push, and the schedule survives a restart (rebuilt from the inventories).

import { join } from "node:path";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { operatorConfigSchema } from "../../src/config/operator-config.js";
import { createGitOpsApp, type GitOpsApp } from "../../src/index.js";
import { suspendKustomization } from "../../src/reconcile/suspension.js";
import { ManualClock } from "../../src/schedule/clock.js";
import { replyPushHead } from "../support/branch-head-nock.js";
import { commitFiles, createGitRepo } from "../support/git-server.js";
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
} from "../support/github-app.js";
import { GITHUB_API_URL, type GitHubMock, mockGitHub } from "../support/github-mock.js";
import {
  type HelmRepoServer,
  helmReleaseYaml,
  helmRepositoryYaml,
  startHelmRepo,
} from "../support/helm-repo.js";
import { createNamespace, PatchStrategy, testObjectApi, uniqueName } from "../support/kube.js";
import { createTestProbot, receive } from "../support/probot.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

const base = `/repos/${OWNER}/${REPO}`;
const refPath = `${base}/git/ref/heads%2Fmaster`;
const TEN_MINUTES = 10 * 60_000;
let github: GitHubMock | undefined;
const apps: GitOpsApp[] = [];
afterEach(async () => {
  github?.cleanup();
  for (const app of apps.splice(0)) await app.close();
  nock.cleanAll();
});

function operator() {
  return operatorConfigSchema.parse({
    clusters: [{ name: "dev", kubeconfig: inject("kubeconfigPath"), repositories: [`${OWNER}/${REPO}`] }],
    images: { enabled: false },
  });
}

/** The bot on a manual clock; jitter pinned to its middle (random 0.5: exactly the interval). */
async function startScheduledBot(clock: ManualClock, opts: { discoverOnStart?: boolean } = {}) {
  const app = createGitOpsApp({
    operator: operator(),
    engine: { skipHealth: true },
    schedule: { clock, random: () => 0.5, restartSpreadMs: 60_000 },
    ...(opts.discoverOnStart ? { discoverOnStart: true } : {}),
  });
  apps.push(app);
  const probot = await createTestProbot(app.appFn);
  return { app, probot };
}

/** GitHub's answers to a push that reconciles one cluster: the check run and `statuses` commit statuses. */
function replyPush(mock: GitHubMock, config: string, dir: string, sha: string, statuses = 2) {
  mock.installationToken(INSTALLATION_ID);
  replyRepoConfig(mock, config);
  replyPushHead(mock, sha);
  replyTarball(mock, dir, sha);
  mock.reply("POST", `${base}/check-runs`, 201, { id: 31 });
  mock.reply("PATCH", `${base}/check-runs/31`, 200, { id: 31 }, { times: 2 });
  return mock.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: statuses });
}

/** The schedule's first read of the branch head: a full answer with an ETag. */
function replyHeadWithEtag(mock: GitHubMock, sha: string, etag: string) {
  return mock.reply(
    "GET",
    refPath,
    200,
    { ref: "refs/heads/master", object: { sha, type: "commit" } },
    { headers: { etag } },
  );
}

/** GitHub's 304 to a conditional read, only when the request carries `If-None-Match: etag`. */
function replyNotModified(etag: string): nock.Scope {
  return nock(GITHUB_API_URL).get(refPath).matchHeader("if-none-match", etag).reply(304);
}

async function liveColor(api: RawObjectApi, ns: string): Promise<string | undefined> {
  const cm = (await api.read({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "settings", namespace: ns },
  })) as {
    data?: Record<string, string>;
  };
  return cm.data?.color;
}

async function editLive(api: RawObjectApi, ns: string, color: string): Promise<void> {
  await api.patch(
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: ns }, data: { color } },
    undefined,
    undefined,
    "kubectl-edit",
    true,
    PatchStrategy.ServerSideApply,
  );
}

async function pushedRepo(prefix: string) {
  const api = testObjectApi();
  const repo = await appsRepo(api, prefix, () => ({
    "settings.yaml": configMap("settings", { color: "blue" }),
  }));
  return {
    api,
    ...repo,
    config: repoConfigYaml([{ name: "dev", path: repo.clusterPath }]),
    sha: randomSha(),
  };
}

describe("the reconcile schedule", () => {
  it("reconciles every spec.interval from the branch head, and a no-op costs one 304 and writes nothing", async () => {
    const clock = new ManualClock();
    const { ns, dir, config, sha } = await pushedRepo("sched");
    github = mockGitHub();
    replyPush(github, config, dir, sha);
    const { app, probot } = await startScheduledBot(clock);
    await receive(probot, "push", pushExample(sha));
    await app.queue.idle();
    const subject = `Kustomization/${ns}/apps`;
    expect(await app.schedule()?.list()).toEqual([
      expect.objectContaining({
        id: `reconcile:github.com/codertocat/hello-world:dev:${subject}`,
        everyMs: TEN_MINUTES,
      }),
    ]);

    // One interval later: the head is read (its ETag kept), the tree fetched once, nothing changed, nothing written.
    const head = replyHeadWithEtag(github, sha, '"ref-etag-1"');
    replyTarball(github, dir, sha);
    await clock.advance(TEN_MINUTES - 1);
    await app.queue.idle();
    expect(head.requests).toHaveLength(0);
    await clock.advance(1);
    await app.queue.idle();
    expect(head.requests).toHaveLength(1);

    // Once more: the head did not move (If-None-Match answered 304, which GitHub does not count), the tree is
    // reused, nothing changed: no write at all (the mock fails on any request it was not told of).
    const quiet = replyNotModified('"ref-etag-1"');
    await clock.advance(TEN_MINUTES);
    await app.queue.idle();
    expect(quiet.isDone()).toBe(true);
    expect(app.schedule()?.heads.counts).toEqual({ full: 1, notModified: 1 });
    github.done();
  });

  it("leaves a suspended Kustomization alone, says so in its status, and stops its timer", async () => {
    const clock = new ManualClock();
    const { api, ns, dir, config, sha } = await pushedRepo("schedsusp");
    github = mockGitHub();
    replyPush(github, config, dir, sha);
    const { app, probot } = await startScheduledBot(clock);
    await receive(probot, "push", pushExample(sha));
    await app.queue.idle();

    await suspendKustomization(api, { name: "apps", namespace: ns }, "octocat");
    await editLive(api, ns, "red");
    replyHeadWithEtag(github, sha, '"ref-etag-2"');
    replyTarball(github, dir, sha);
    github.reply("POST", `${base}/check-runs`, 201, { id: 33 });
    github.reply("PATCH", `${base}/check-runs/33`, 200, { id: 33 });
    // The Kustomization's status says it is suspended; the cluster's is sent again only when its text differs from
    // what this process wrote for the push ("1 Kustomization ready in 0.4 s" may repeat to the tenth of a second).
    const statuses = github.reply(
      "POST",
      `${base}/statuses/${sha}`,
      201,
      { id: 3 },
      { times: 2, minTimes: 1 },
    );
    await clock.advance(TEN_MINUTES);
    await app.queue.idle();
    github.done();

    expect(await liveColor(api, ns)).toBe("red");
    const own = Object.entries(finalStatuses(statuses)).find(([context]) => context !== "gitops/dev");
    // The status says who suspended it and how to resume.
    expect(own?.[1]).toEqual({
      state: "success",
      description: expect.stringMatching(
        /^suspended by \/gitops suspend \(@octocat, .+\); \/gitops resume to reconcile it again$/,
      ),
    });
    expect(await app.schedule()?.list()).toEqual([]);
    // Kept in the cluster, visible with kubectl: a label on the inventory ConfigMap.
    const marked = await api.list(
      "v1",
      "ConfigMap",
      ns,
      undefined,
      undefined,
      undefined,
      undefined,
      "gitops-bot.dev/suspended=true",
    );
    expect(marked.items.map((i) => i.metadata?.name)).toEqual(["gitops-bot-inventory-apps"]);
  });

  it("keeps the schedule across a restart: rebuilt from the installed repositories and the inventories", async () => {
    const clock = new ManualClock();
    const { api, ns, dir, config, sha } = await pushedRepo("schedrestart");
    github = mockGitHub();
    replyPush(github, config, dir, sha);
    const first = await startScheduledBot(clock);
    await receive(first.probot, "push", pushExample(sha));
    await first.app.queue.idle();
    await first.app.close();
    github.done();

    // A new process: nothing in memory; it finds the repository, its config and the inventory in the cluster.
    github = mockGitHub();
    github.reply("GET", "/app/installations", 200, [{ id: INSTALLATION_ID, account: { login: OWNER } }]);
    github.installationToken(INSTALLATION_ID);
    github.reply("GET", "/installation/repositories", 200, {
      total_count: 1,
      repositories: [
        {
          name: REPO,
          full_name: `${OWNER}/${REPO}`,
          owner: { login: OWNER },
          default_branch: "master",
          archived: false,
        },
      ],
    });
    replyRepoConfig(github, config);
    const second = await startScheduledBot(clock, { discoverOnStart: true });
    const subject = `Kustomization/${ns}/apps`;
    for (let i = 0; i < 100 && (await second.app.schedule()?.list())?.length !== 1; i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await second.app.schedule()?.list())?.map((t) => t.id)).toEqual([
      `reconcile:github.com/codertocat/hello-world:dev:${subject}`,
    ]);

    // Its timer fires within the restart spread and reconciles from the head; a new process knows no last
    // outcome, so this first run reports.
    // It knows no last run either, so it reads the config again (the cluster may have left it).
    replyRepoConfig(github, config);
    replyHeadWithEtag(github, sha, '"ref-etag-3"');
    replyTarball(github, dir, sha);
    github.reply("POST", `${base}/check-runs`, 201, { id: 34 });
    github.reply("PATCH", `${base}/check-runs/34`, 200, { id: 34 });
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 4 }, { times: 2 });
    await clock.advance(60_000);
    await second.app.queue.idle();
    github.done();
    expect(finalStatuses(statuses)[`gitops/dev`]?.state).toBe("success");
    expect(await liveColor(api, ns)).toBe("blue");
    // That run set the real interval again.
    expect((await second.app.schedule()?.list())?.[0]?.everyMs).toBe(TEN_MINUTES);
  });
});

describe("sources polled by the schedule", () => {
  let charts: HelmRepoServer;
  beforeAll(async () => {
    charts = await startHelmRepo();
    await charts.addChart({ name: "demo", version: "0.1.0" });
  });
  afterAll(() => charts?.stop());

  it("upgrades to a new chart version in range without a push, and the status shows it", async () => {
    const clock = new ManualClock();
    const ns = await createNamespace(testObjectApi(), "schedhelm");
    const clusterPath = `clusters/${ns}`;
    const dir = makeRepo({
      [`${clusterPath}/charts.yaml`]: helmRepositoryYaml("charts", ns, charts.url),
      [`${clusterPath}/app.yaml`]: helmReleaseYaml({ name: "app", namespace: ns, version: "0.1.x" }),
    });
    const sha = randomSha();
    github = mockGitHub();
    const pushed = replyPush(github, repoConfigYaml([{ name: "dev", path: clusterPath }]), dir, sha);
    const { app, probot } = await startScheduledBot(clock);
    await receive(probot, "push", pushExample(sha));
    await app.queue.idle();
    expect(finalStatuses(pushed)["gitops/dev/helmrelease/app"]?.description).toBe(
      "installed demo 0.1.0 (revision 1)",
    );

    await charts.addChart({ name: "demo", version: "0.1.1" });
    replyHeadWithEtag(github, sha, '"ref-etag-4"');
    replyTarball(github, dir, sha);
    github.reply("POST", `${base}/check-runs`, 201, { id: 35 });
    const check = github.reply("PATCH", `${base}/check-runs/35`, 200, { id: 35 });
    // The cluster's status may read exactly as the push's did ("… ready in 1.2 s"): then it is not sent again.
    const statuses: { context: string; description: string }[] = [];
    nock(GITHUB_API_URL)
      .persist()
      .post(`${base}/statuses/${sha}`)
      .reply(201, (_uri, body) => {
        statuses.push(body as { context: string; description: string });
        return { id: 5 };
      });
    await clock.advance(TEN_MINUTES);
    await app.queue.idle();
    github.done();
    expect(statuses.find((st) => st.context === "gitops/dev/helmrelease/app")?.description).toMatch(
      /upgraded demo 0\.1\.1/,
    );
    const summary = (check.requests[0]!.body as { output: { summary: string } }).output.summary;
    expect(summary).toContain("demo 0.1.1");
  });

  it("polls a second git repository on its own interval: a new commit is picked up within it, an unchanged one costs no run", async () => {
    const clock = new ManualClock();
    const api = testObjectApi();
    const ns = await createNamespace(api, "schedgit");
    const name = uniqueName("other-repo");
    const other = await createGitRepo(join(inject("gitRoot"), name), {
      "deploy/a.yaml": configMap("a", { version: "1" }),
    });
    const clusterPath = `clusters/${ns}`;
    // The source every minute, the Kustomization that uses it every 10 minutes.
    const dir = makeRepo({
      [`${clusterPath}/source.yaml`]: `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: other
  namespace: ${ns}
spec:
  interval: 1m
  url: ${inject("gitServerUrl")}/${name}
  ref:
    branch: main
`,
      [`${clusterPath}/apps.yaml`]: fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./deploy",
        extra: `  targetNamespace: ${ns}\n`,
      }).replace("name: flux-system", "name: other"),
    });
    const sha = randomSha();
    github = mockGitHub();
    replyPush(github, repoConfigYaml([{ name: "dev", path: clusterPath }]), dir, sha);
    const { app, probot } = await startScheduledBot(clock);
    await receive(probot, "push", pushExample(sha));
    await app.queue.idle();
    const read = async () =>
      (
        (await api.read({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: ns } })) as {
          data?: Record<string, string>;
        }
      ).data?.version;
    expect(await read()).toBe("1");
    const schedule = app.schedule();
    expect((await schedule?.list())?.map((t) => [t.id, t.everyMs]).sort()).toEqual([
      [`reconcile:github.com/codertocat/hello-world:dev:GitRepository/${ns}/other`, 60_000],
      [`reconcile:github.com/codertocat/hello-world:dev:Kustomization/${ns}/apps`, TEN_MINUTES],
    ]);

    // Two polls of the unchanged source: no run (no branch head read, nothing written: the mock would fail).
    await clock.advance(2 * 60_000);
    await app.queue.idle();
    expect(schedule?.sourceChecks).toEqual({ unchanged: 2, changed: 0, failed: 0 });
    expect(schedule?.heads.counts).toEqual({ full: 0, notModified: 0 });

    // A new commit: the next poll of the source (a minute, not the Kustomization's 10) reconciles it.
    const next = await commitFiles(other.dir, { "deploy/a.yaml": configMap("a", { version: "2" }) }, "two");
    replyHeadWithEtag(github, sha, '"ref-etag-5"');
    replyTarball(github, dir, sha);
    github.reply("POST", `${base}/check-runs`, 201, { id: 36 });
    const check = github.reply("PATCH", `${base}/check-runs/36`, 200, { id: 36 });
    nock(GITHUB_API_URL).persist().post(`${base}/statuses/${sha}`).reply(201, { id: 6 });
    await clock.advance(60_000);
    await app.queue.idle();
    github.done();
    expect(await read()).toBe("2");
    expect(schedule?.sourceChecks).toEqual({ unchanged: 2, changed: 1, failed: 0 });
    expect(schedule?.heads.counts).toEqual({ full: 1, notModified: 0 });
    const summary = (check.requests[0]!.body as { output: { summary: string } }).output.summary;
    expect(summary).toContain(next.slice(0, 7));

    // The run that picked it up recorded the new revision: the next poll finds it unchanged, no run.
    await clock.advance(60_000);
    await app.queue.idle();
    expect(schedule?.sourceChecks).toEqual({ unchanged: 3, changed: 1, failed: 0 });
    expect(schedule?.heads.counts).toEqual({ full: 1, notModified: 0 });
  });

  it("polls a HelmRepository on its own interval: a new chart in range is upgraded to at the source's interval", async () => {
    const clock = new ManualClock();
    const ns = await createNamespace(testObjectApi(), "schedhelmsrc");
    const clusterPath = `clusters/${ns}`;
    const own = await startHelmRepo();
    try {
      await own.addChart({ name: "demo", version: "0.1.0" });
      // The HelmRepository every minute, its HelmRelease every hour.
      const dir = makeRepo({
        [`${clusterPath}/charts.yaml`]: helmRepositoryYaml("charts", ns, own.url).replace(
          "interval: 10m",
          "interval: 1m",
        ),
        [`${clusterPath}/app.yaml`]: helmReleaseYaml({
          name: "app",
          namespace: ns,
          version: "0.1.x",
        }).replace("interval: 10m", "interval: 1h"),
      });
      const sha = randomSha();
      github = mockGitHub();
      replyPush(github, repoConfigYaml([{ name: "dev", path: clusterPath }]), dir, sha);
      const { app, probot } = await startScheduledBot(clock);
      await receive(probot, "push", pushExample(sha));
      await app.queue.idle();
      const schedule = app.schedule();

      await clock.advance(60_000);
      await app.queue.idle();
      expect(schedule?.sourceChecks).toEqual({ unchanged: 1, changed: 0, failed: 0 });

      await own.addChart({ name: "demo", version: "0.1.1" });
      replyHeadWithEtag(github, sha, '"ref-etag-6"');
      replyTarball(github, dir, sha);
      github.reply("POST", `${base}/check-runs`, 201, { id: 37 });
      const check = github.reply("PATCH", `${base}/check-runs/37`, 200, { id: 37 });
      const statuses: { context: string; description: string }[] = [];
      nock(GITHUB_API_URL)
        .persist()
        .post(`${base}/statuses/${sha}`)
        .reply(201, (_uri, body) => {
          statuses.push(body as { context: string; description: string });
          return { id: 7 };
        });
      await clock.advance(60_000);
      await app.queue.idle();
      github.done();
      expect(schedule?.sourceChecks).toEqual({ unchanged: 1, changed: 1, failed: 0 });
      expect(statuses.find((st) => st.context === "gitops/dev/helmrelease/app")?.description).toMatch(
        /upgraded demo 0\.1\.1/,
      );
      const summary = (check.requests[0]!.body as { output: { summary: string } }).output.summary;
      expect(summary).toContain("demo 0.1.1");
    } finally {
      await own.stop();
    }
  });
});
