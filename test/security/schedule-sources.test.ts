// Attacks on the sources' own timers (src/schedule/source-poll.ts), through the GitHub App on the real API server
// with simulated time. A repository declares a GitRepository on the cloud metadata address with `interval: 0s`:
// the timer is held to the operator's floor (no loop), every check is refused by the outbound policy before any
// connection, nothing is reconciled and GitHub hears nothing (the mock fails on any request it was not told of).
import nock from "nock";
import { afterEach, describe, expect, inject, it } from "vitest";
import { operatorConfigSchema } from "../../src/config/operator-config.js";
import { createGitOpsApp, type GitOpsApp } from "../../src/index.js";
import { ManualClock } from "../../src/schedule/clock.js";
import { replyPushHead } from "../support/branch-head-nock.js";
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
import { createNamespace, testObjectApi } from "../support/kube.js";
import { createTestProbot, receive } from "../support/probot.js";
import { fluxKustomization, makeRepo } from "../support/repo-tree.js";

const base = `/repos/${OWNER}/${REPO}`;
let github: GitHubMock | undefined;
const apps: GitOpsApp[] = [];
afterEach(async () => {
  github?.cleanup();
  for (const app of apps.splice(0)) await app.close();
  nock.cleanAll();
});

describe("a source's own timer under attack", () => {
  it("a GitRepository on 169.254.169.254 with interval 0s: held to the floor, each check refused, nothing run", async () => {
    const clock = new ManualClock();
    const ns = await createNamespace(testObjectApi(), "secsrcpoll");
    const clusterPath = `clusters/${ns}`;
    const dir = makeRepo({
      [`${clusterPath}/source.yaml`]: `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: metadata
  namespace: ${ns}
spec:
  interval: 0s
  url: http://169.254.169.254/latest/meta-data
  ref:
    branch: main
`,
      [`${clusterPath}/apps.yaml`]: fluxKustomization({ name: "apps", namespace: ns, path: "./" }).replace(
        "name: flux-system",
        "name: metadata",
      ),
    });
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyPushHead(github, sha);
    replyTarball(github, dir, sha);
    github.reply("POST", `${base}/check-runs`, 201, { id: 61 });
    github.reply("PATCH", `${base}/check-runs/61`, 200, { id: 61 }, { times: 2 });
    nock(GITHUB_API_URL).persist().post(`${base}/statuses/${sha}`).reply(201, { id: 1 });
    const app = createGitOpsApp({
      operator: operatorConfigSchema.parse({
        clusters: [{ name: "dev", kubeconfig: inject("kubeconfigPath"), repositories: [`${OWNER}/${REPO}`] }],
        images: { enabled: false },
      }),
      engine: { skipHealth: true },
      schedule: { clock, random: () => 0.5 },
    });
    apps.push(app);
    const probot = await createTestProbot(app.appFn);
    await receive(probot, "push", pushExample(sha));
    await app.queue.idle();
    github.done();

    const schedule = app.schedule();
    const sourceTimer = (await schedule?.list())?.find((t) => t.id.endsWith(`GitRepository/${ns}/metadata`));
    // Held to security.minInterval (30 s by default): `0s` cannot loop.
    expect(sourceTimer?.everyMs).toBe(30_000);

    // Two minutes: four checks at most, each refused before connecting; no run (no branch head read, no write).
    github = mockGitHub();
    const started = Date.now();
    await clock.advance(120_000);
    await app.queue.idle();
    github.done();
    expect(schedule?.sourceChecks).toEqual({ unchanged: 0, changed: 0, failed: 4 });
    expect(schedule?.heads.counts).toEqual({ full: 0, notModified: 0 });
    // Refused at once, not after a connection timeout.
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
