// Flux notifications from scheduled runs, through the GitHub App on the real API server with simulated time: a
// scheduled reconcile that corrects drift or fails sends its event to the Alert's Provider (a real HTTP receiver
// on loopback), as a push's run does; a quiet scheduled run (nothing changed, nothing failed) sends nothing, as
// Flux's controllers send only on change or error.
import { join } from "node:path";
import nock from "nock";
import { afterEach, describe, expect, inject, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { operatorConfigSchema } from "../../src/config/operator-config.js";
import { createGitOpsApp, type GitOpsApp } from "../../src/index.js";
import type { DeliveryResult } from "../../src/notify/index.js";
import { ManualClock } from "../../src/schedule/clock.js";
import { botIssue } from "../drift/github-runs.js";
import { replyPushHead } from "../support/branch-head-nock.js";
import { commitFiles, createGitRepo } from "../support/git-server.js";
import {
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
import { createNamespace, PatchStrategy, testObjectApi, uniqueName } from "../support/kube.js";
import { createTestProbot, receive } from "../support/probot.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";
import { eventually, type Receiver, startReceiver } from "./support.js";

const base = `/repos/${OWNER}/${REPO}`;
const refPath = `${base}/git/ref/heads%2Fmaster`;
const TEN_MINUTES = 10 * 60_000;

let github: GitHubMock | undefined;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  github?.cleanup();
  for (const c of cleanups.splice(0)) await c();
  nock.cleanAll();
});

async function startScheduledBot(clock: ManualClock) {
  const deliveries: DeliveryResult[] = [];
  const app: GitOpsApp = createGitOpsApp({
    operator: operatorConfigSchema.parse({
      clusters: [{ name: "dev", kubeconfig: inject("kubeconfigPath"), repositories: [`${OWNER}/${REPO}`] }],
      images: { enabled: false },
    }),
    engine: { skipHealth: true },
    schedule: { clock, random: () => 0.5 },
    notifications: { retry: { attempts: 2, baseDelayMs: 50 }, onDelivery: (r) => deliveries.push(r) },
  });
  cleanups.push(() => app.close());
  const probot = await createTestProbot(app.appFn);
  return { app, probot, deliveries };
}

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  cleanups.push(() => r.close());
  return r;
}

/** A generic Provider whose address is in a Secret, and an Alert on every Kustomization at `severity`. */
async function notificationObjects(api: RawObjectApi, ns: string, address: string, severity: string) {
  await api.create({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "webhook", namespace: ns },
    stringData: { address: `${address}/hooks/scheduled` },
  } as Parameters<typeof api.create>[0]);
  return `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: webhook
  namespace: ${ns}
spec:
  type: generic
  secretRef:
    name: webhook
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: on-change
  namespace: ${ns}
spec:
  providerRef:
    name: webhook
  eventSeverity: ${severity}
  eventSources:
    - kind: Kustomization
      name: '*'
`;
}

/** GitHub's answers to the push that applies the tree first. */
function replyPush(mock: GitHubMock, clusterPath: string, dir: string, sha: string) {
  mock.installationToken(INSTALLATION_ID);
  replyRepoConfig(mock, repoConfigYaml([{ name: "dev", path: clusterPath }]));
  replyPushHead(mock, sha);
  replyTarball(mock, dir, sha);
  mock.reply("POST", `${base}/check-runs`, 201, { id: 51 });
  mock.reply("PATCH", `${base}/check-runs/51`, 200, { id: 51 }, { times: 2 });
  mock.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 2 });
}

/** A scheduled run that reports: the head (with an ETag), the tree, a check run and any statuses. */
function replyReportedScheduledRun(
  mock: GitHubMock,
  dir: string,
  sha: string,
  etag: string,
  checkRun: number,
) {
  mock.reply(
    "GET",
    refPath,
    200,
    { ref: "refs/heads/master", object: { sha, type: "commit" } },
    { headers: { etag } },
  );
  replyTarball(mock, dir, sha);
  mock.reply("POST", `${base}/check-runs`, 201, { id: checkRun });
  mock.reply("PATCH", `${base}/check-runs/${checkRun}`, 200, { id: checkRun });
  nock(GITHUB_API_URL).persist().post(`${base}/statuses/${sha}`).reply(201, { id: 2 });
}

interface Posted {
  involvedObject: { kind: string; namespace: string; name: string };
  severity: string;
  reason: string;
  message: string;
}

describe("notifications of scheduled runs", () => {
  it("a scheduled run that corrects drift notifies; a quiet scheduled run sends nothing", async () => {
    const clock = new ManualClock();
    const api = testObjectApi();
    const hook = await receiver();
    const ns = await createNamespace(api, "ntfsched");
    const clusterPath = `clusters/${ns}`;
    const dir = makeRepo({
      [`${clusterPath}/apps.yaml`]: fluxKustomization({
        name: "apps",
        namespace: ns,
        path: `./apps/${ns}`,
        extra: `  targetNamespace: ${ns}\n`,
      }),
      [`${clusterPath}/notifications.yaml`]: await notificationObjects(api, ns, hook.url, "info"),
      [`apps/${ns}/settings.yaml`]: configMap("settings", { color: "blue" }),
    });
    const sha = randomSha();
    github = mockGitHub();
    replyPush(github, clusterPath, dir, sha);
    const bot = await startScheduledBot(clock);
    await receive(bot.probot, "push", pushExample(sha));
    await bot.app.queue.idle();
    // The push's run notifies (an info Alert hears the created ConfigMap).
    await eventually(() => bot.deliveries.length > 0, 15_000);
    const afterPush = hook.requests.length;
    expect(afterPush).toBeGreaterThan(0);

    // Someone edits the managed ConfigMap with a field manager of their own: the next scheduled run puts it back.
    await api.patch(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "settings", namespace: ns },
        data: { color: "red" },
      },
      undefined,
      undefined,
      "kubectl-edit",
      true,
      PatchStrategy.ServerSideApply,
    );
    replyReportedScheduledRun(github, dir, sha, '"ntf-etag-1"', 52);
    // The drift is also reported in the repository's drift issue (opened here, closed by the next clean run).
    github.reply("GET", `${base}/issues`, 200, []);
    const opened = github.reply("POST", `${base}/issues`, 201, botIssue(8, "Drift on dev", ""));
    await clock.advance(TEN_MINUTES);
    await bot.app.queue.idle();
    // Two events (the Kustomization's outcome and its drift), delivered apart: wait for the one naming the object.
    await eventually(
      () => hook.requests.slice(afterPush).some((r) => r.body.includes(`ConfigMap/${ns}/settings`)),
      15_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    const live = (await api.read({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "settings", namespace: ns },
    })) as { data?: Record<string, string> };
    expect(live.data?.color).toBe("blue");
    const posted = hook.requests.slice(afterPush).map((r) => JSON.parse(r.body) as Posted);
    expect(posted.every((p) => p.involvedObject.name === "apps" && p.involvedObject.namespace === ns)).toBe(
      true,
    );
    // The drift (who changed what) and the correction (configured) are what was sent.
    expect(posted.map((p) => p.message).join("\n")).toMatch(/configured|drift/);
    expect(posted.some((p) => p.message.includes(`ConfigMap/${ns}/settings`))).toBe(true);

    // Nothing changed since: the head answers 304 and the run is quiet (it only closes the drift issue). Nothing
    // is sent.
    const issueBody = (opened.requests[0]!.body as { body: string }).body;
    github.reply("GET", `${base}/issues`, 200, [botIssue(8, "Drift on dev", issueBody)]);
    github.reply("POST", `${base}/issues/8/comments`, 201, { id: 78 });
    github.reply("PATCH", `${base}/issues/8`, 200, botIssue(8, "Drift on dev", issueBody));
    const afterDrift = hook.requests.length;
    const deliveredAfterDrift = bot.deliveries.length;
    const quiet = nock(GITHUB_API_URL).get(refPath).matchHeader("if-none-match", '"ntf-etag-1"').reply(304);
    await clock.advance(TEN_MINUTES);
    await bot.app.queue.idle();
    // Longer than a delivery takes on loopback.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(quiet.isDone()).toBe(true);
    expect(hook.requests).toHaveLength(afterDrift);
    expect(bot.deliveries).toHaveLength(deliveredAfterDrift);
    github.done();
  });

  it("a scheduled run that fails (a new commit on its source breaks the build) sends an error event", async () => {
    const clock = new ManualClock();
    const api = testObjectApi();
    const hook = await receiver();
    const ns = await createNamespace(api, "ntfschedfail");
    const name = uniqueName("ntf-other");
    const other = await createGitRepo(join(inject("gitRoot"), name), {
      "deploy/a.yaml": configMap("a", { version: "1" }),
    });
    const clusterPath = `clusters/${ns}`;
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
      [`${clusterPath}/notifications.yaml`]: await notificationObjects(api, ns, hook.url, "error"),
    });
    const sha = randomSha();
    github = mockGitHub();
    replyPush(github, clusterPath, dir, sha);
    const bot = await startScheduledBot(clock);
    await receive(bot.probot, "push", pushExample(sha));
    await bot.app.queue.idle();
    // A successful push with an error-only Alert sends nothing.
    await new Promise((r) => setTimeout(r, 500));
    expect(hook.requests).toEqual([]);

    await commitFiles(other.dir, { "deploy/bad.yaml": configMap("bad", { "not a valid key!": "1" }) }, "bad");
    replyReportedScheduledRun(github, dir, sha, '"ntf-etag-2"', 53);
    // The source's own interval (1 m) comes first: its new revision reconciles the Kustomization.
    await clock.advance(60_000);
    await bot.app.queue.idle();
    await eventually(() => hook.requests.length > 0, 15_000);
    const posted = hook.requests.map((r) => JSON.parse(r.body) as Posted);
    expect(posted[0]).toMatchObject({
      involvedObject: { kind: "Kustomization", namespace: ns, name: "apps" },
      severity: "error",
    });
    expect(posted[0]?.message).toContain(`ConfigMap/${ns}/bad`);
    expect(bot.deliveries.map((d) => d.outcome)).toContain("sent");
    github.done();
  });
});
