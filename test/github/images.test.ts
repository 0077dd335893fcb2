// Image automation through the bot: a push to the default branch makes it read the repository's
// ImageUpdateAutomation from GitHub (git data API), scan the real registry, and open the one image-update pull
// request — GitHub simulated by the OpenAPI-checked mock, the registry real.
import { afterEach, describe, expect, inject, it } from "vitest";
import { operatorConfigSchema } from "../../src/config/operator-config.js";
import { createGitOpsApp } from "../../src/index.js";
import {
  INSTALLATION_ID,
  OWNER,
  pushExample,
  REPO,
  randomSha,
  replyRepoConfig,
  repoConfigYaml,
  startBot,
} from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { createTestProbot, receive } from "../support/probot.js";
import { pushImageTags } from "../support/registry.js";

const base = `/repos/${OWNER}/${REPO}`;
let github: GitHubMock | undefined;
let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  github?.cleanup();
});

const automationYaml = (image: string) => `apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  image: ${image}
  interval: 5m
  insecure: true
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: podinfo
  policy:
    semver:
      range: 5.x
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageUpdateAutomation
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 30m
  sourceRef:
    kind: GitRepository
    name: flux-system
  update:
    path: ./apps
    strategy: Setters
`;

const deployment = (image: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  template:
    spec:
      containers:
        - name: podinfo
          # kept as it is
          image: ${image} # {"$imagepolicy": "flux-system:podinfo"}
`;

describe("image automation in the bot", () => {
  it("opens an image-update pull request after a push to the default branch", async () => {
    const host = inject("registryHost");
    const repository = `bot/podinfo-${Math.random().toString(36).slice(2, 8)}`;
    await pushImageTags(`http://${host}`, repository, ["5.0.0", "5.1.0", "5.2.1", "6.0.0", "sha256-x.sig"]);
    const image = `${host}/${repository}`;
    const [head, tree, automationBlob, deploymentBlob] = [randomSha(), randomSha(), randomSha(), randomSha()];

    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    // The push job and the images job each read .github/gitops.yaml; no cluster tracks master here.
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: "clusters/dev", branch: "release" }]), 2);
    // Reading the automations (images job), then the base of the pull request (the scan): same tree twice.
    github.reply(
      "GET",
      `${base}/git/ref/heads%2Fmaster`,
      200,
      { ref: "refs/heads/master", object: { sha: head } },
      { times: 2 },
    );
    github.reply("GET", `${base}/git/commits/${head}`, 200, { sha: head, tree: { sha: tree } }, { times: 2 });
    github.reply(
      "GET",
      `${base}/git/trees/${tree}?recursive=true`,
      200,
      {
        sha: tree,
        truncated: false,
        tree: [
          { path: "clusters/dev/images.yaml", mode: "100644", type: "blob", sha: automationBlob },
          { path: "apps/podinfo.yaml", mode: "100644", type: "blob", sha: deploymentBlob },
        ],
      },
      { times: 2 },
    );
    const blob = (sha: string, text: string) => ({
      sha,
      encoding: "base64",
      content: Buffer.from(text).toString("base64"),
    });
    github.reply(
      "GET",
      `${base}/git/blobs/${automationBlob}`,
      200,
      blob(automationBlob, automationYaml(image)),
    );
    github.reply(
      "GET",
      `${base}/git/blobs/${deploymentBlob}`,
      200,
      blob(deploymentBlob, deployment(`${image}:5.0.0`)),
      {
        times: 2,
      },
    );
    github.reply("GET", `${base}/pulls`, 200, []);
    const treeCreated = github.reply("POST", `${base}/git/trees`, 201, { sha: randomSha() });
    github.reply("POST", `${base}/git/commits`, 201, { sha: randomSha() });
    github.reply("GET", `${base}/git/ref/heads%2Fgitops-bot%2Fimage-updates%2Fapps`, 404, {
      message: "Not Found",
    });
    github.reply("POST", `${base}/git/refs`, 201, {
      ref: "refs/heads/gitops-bot/image-updates/apps",
      object: { sha: head },
    });
    const pr = github.reply("POST", `${base}/pulls`, 201, { number: 42 });

    let scanDone: (outcome: string) => void = () => {};
    const scanned = new Promise<string>((resolve) => {
      scanDone = resolve;
    });
    const bot = await startBot({
      // The repository must be allowed on some cluster for the operator's registry access to be used.
      operator: {
        clusters: [{ name: "dev", kubeconfig: "/unused", repositories: [`${OWNER}/${REPO}`] }],
        images: { enabled: true },
      },
      // Scans run on the schedule, outside the queue: wait for the first one.
      onImageScan: (automation, action) => scanDone(`${automation}: ${action}`),
    });
    stop = () => bot.app.close();
    await receive(bot.probot, "push", pushExample(randomSha()));
    await bot.app.queue.idle();
    expect(await scanned).toBe("flux-system/apps: created");
    github.done();

    const changed = (treeCreated.requests[0]!.body as { tree: { path: string; content: string }[] }).tree;
    expect(changed.map((t) => t.path)).toEqual(["apps/podinfo.yaml"]);
    expect(changed[0]?.content).toBe(deployment(`${image}:5.2.1`));
    expect(pr.requests[0]!.body).toMatchObject({ head: "gitops-bot/image-updates/apps", base: "master" });
    expect((pr.requests[0]!.body as { body: string }).body).toContain("5.0.0");
  });

  it("resumes image scans at start-up for every repository the app is installed on", async () => {
    github = mockGitHub();
    const installations = github.reply("GET", "/app/installations", 200, [
      { id: INSTALLATION_ID, account: { login: OWNER } },
    ]);
    github.installationToken(INSTALLATION_ID);
    github.reply("GET", "/installation/repositories", 200, {
      total_count: 2,
      repositories: [
        {
          name: REPO,
          full_name: `${OWNER}/${REPO}`,
          owner: { login: OWNER },
          default_branch: "master",
          archived: false,
        },
        {
          name: "old",
          full_name: `${OWNER}/old`,
          owner: { login: OWNER },
          default_branch: "main",
          archived: true,
        },
      ],
    });
    // The one live repository has not opted in (no .github/gitops.yaml): nothing else is read.
    const config = replyRepoConfig(github, null);
    const app = createGitOpsApp({
      operator: operatorConfigSchema.parse({
        clusters: [{ name: "dev", kubeconfig: "/unused", repositories: [`${OWNER}/*`] }],
      }),
      discoverOnStart: true,
    });
    stop = () => app.close();
    await createTestProbot(app.appFn);
    await expect.poll(() => config.requests.length).toBe(1);
    await app.queue.idle();
    github.done();
    expect(installations.requests).toHaveLength(1);
  });
});
