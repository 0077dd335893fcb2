// HelmReleases through the GitHub App: a push installs the release with the real helm (status per
// HelmRelease, a row in the check run), and a pull request that changes values shows the rendered-manifest
// diff in the comment. The Helm repository is real (helm package + index over HTTP).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { replyPushHead } from "../support/branch-head-nock.js";
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
} from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import {
  type HelmRepoServer,
  helmReleaseYaml,
  helmRepositoryYaml,
  startHelmRepo,
} from "../support/helm-repo.js";
import { createNamespace, testObjectApi } from "../support/kube.js";
import { receive } from "../support/probot.js";
import { makeRepo, writeTree } from "../support/repo-tree.js";

const base = `/repos/${OWNER}/${REPO}`;
let github: GitHubMock | undefined;
let charts: HelmRepoServer;
beforeAll(async () => {
  charts = await startHelmRepo();
  await charts.addChart({ name: "demo", version: "0.1.0" });
});
afterAll(() => charts?.stop());
afterEach(() => github?.cleanup());

describe("HelmReleases in the GitHub App", () => {
  it("installs on push with a status per HelmRelease, then diffs a values change on a pull request", async () => {
    const ns = await createNamespace(testObjectApi(), "ghhelm");
    const clusterPath = `clusters/${ns}`;
    const dir = makeRepo({
      [`${clusterPath}/charts.yaml`]: helmRepositoryYaml("charts", ns, charts.url),
      [`${clusterPath}/app.yaml`]: helmReleaseYaml({ name: "app", namespace: ns, version: "0.1.x" }),
    });
    const config = repoConfigYaml([{ name: "dev", path: clusterPath }]);

    // Push: install.
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, config);
    replyPushHead(github, sha);
    replyTarball(github, dir, sha);
    github.reply("POST", `${base}/check-runs`, 201, { id: 21 });
    const checks = github.reply("PATCH", `${base}/check-runs/21`, 200, { id: 21 }, { times: 2 });
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 2 });
    const bot = await startBot();
    await receive(bot.probot, "push", pushExample(sha));
    await bot.app.queue.idle();
    github.done();

    expect(finalStatuses(statuses)[`gitops/dev/helmrelease/app`]).toEqual({
      state: "success",
      description: "installed demo 0.1.0 (revision 1)",
    });
    expect(finalStatuses(statuses)["gitops/dev"]?.description).toMatch(
      /^0 Kustomizations and 1 HelmRelease ready/,
    );
    const summary = (checks.requests[1]!.body as { output: { summary: string } }).output.summary;
    expect(summary).toContain(`| ✅ \`HelmRelease/${ns}/app\` | Ready | installed | demo 0.1.0 | 1 |`);
    expect(summary).toMatch(/Sources: `HelmRepository\/.+\/charts` @ `sha256:[0-9a-f]+`/);

    // Pull request: new values → the rendered ConfigMap's diff.
    writeTree(dir, {
      [`${clusterPath}/app.yaml`]: helmReleaseYaml({
        name: "app",
        namespace: ns,
        version: "0.1.x",
        extra: "  values:\n    color: red\n",
      }),
    });
    const head = randomSha();
    github = mockGitHub(); // the installation token from the push is still valid
    replyRepoConfig(github, config);
    replyTarball(github, dir, head);
    const prStatuses = github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 }, { times: 2 });
    github.reply("GET", `${base}/issues/2/comments`, 200, []);
    const comment = github.reply("POST", `${base}/issues/2/comments`, 201, { id: 5 });
    await receive(bot.probot, "pull_request", pullRequestExample("opened", head));
    await bot.app.queue.idle();
    github.done();

    const body = (comment.requests[0]!.body as { body: string }).body;
    expect(body).toContain(`**HelmRelease/${ns}/app**: would be upgraded demo 0.1.0`);
    expect(body).toContain(`change \`ConfigMap/${ns}/app-config\``);
    expect(body).toMatch(/-\s+color: blue\n\+\s+color: red/);
    expect(finalStatuses(prStatuses)["gitops/diff/dev"]).toEqual({
      state: "success",
      description: "would create 0, change 1, prune 0; 1 Helm release(s) would change",
    });
  });
});
