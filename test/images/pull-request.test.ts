// The image-update pull request through GitHub's git data API, against the nock GitHub double whose every
// request is checked against GitHub's OpenAPI description.
import { Octokit } from "@octokit/rest";
import { afterEach, describe, expect, test } from "vitest";
import { parseManifests } from "../../src/flux/manifests.js";
import { imageUpdateBranch, readMarker, syncImageUpdatePullRequest } from "../../src/images/pull-request.js";
import { type ImageUpdateAutomation, readImageAutomationObjects } from "../../src/images/resources.js";
import type { LatestImage } from "../../src/images/setters.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";

const repoPath = "/repos/acme/fleet";
const baseSha = "a".repeat(40);
const baseTree = "b".repeat(40);
const newTree = "c".repeat(40);
const newCommit = "d".repeat(40);
const deploymentBlob = "e".repeat(40);
const outsideBlob = "f".repeat(40);
const branch = "gitops-bot/image-updates/apps";

const automation: ImageUpdateAutomation = readImageAutomationObjects(
  parseManifests(
    `apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageUpdateAutomation
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 30m
  sourceRef:
    kind: GitRepository
    name: flux-system
  git:
    checkout:
      ref:
        branch: main
    commit:
      author:
        email: fluxcdbot@users.noreply.github.com
        name: fluxcdbot
  update:
    path: ./apps
    strategy: Setters
`,
    "clusters/dev/automation.yaml",
  ),
).automations[0]!;

const deployment = (tag: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo # the app
spec:
  template:
    spec:
      containers:
        - name: podinfo
          image: ghcr.io/stefanprodan/podinfo:${tag} # {"$imagepolicy": "flux-system:podinfo"}
`;

const latest = (tag: string) =>
  new Map<string, LatestImage>([["flux-system/podinfo", { image: "ghcr.io/stefanprodan/podinfo", tag }]]);

const marker = (proposal: Record<string, string>, outcome?: string) =>
  `Old body\n\n<!-- gitops-bot:image-updates ${JSON.stringify({ automation: "flux-system/apps", proposal, ...(outcome ? { outcome } : {}) })} -->`;

function pull(number: number, state: "open" | "closed", body: string, merged = false) {
  return { number, state, body, merged_at: merged ? "2024-01-01T00:00:00Z" : null, head: { ref: branch } };
}

/** The reads every sync makes: base ref, its commit, the tree, the PRs of the branch, the marked file. */
function baseReads(github: GitHubMock, deployedTag: string, pulls: unknown[]) {
  github.reply("GET", `${repoPath}/git/ref/heads%2Fmain`, 200, {
    ref: "refs/heads/main",
    object: { sha: baseSha, type: "commit" },
  });
  github.reply("GET", `${repoPath}/git/commits/${baseSha}`, 200, { sha: baseSha, tree: { sha: baseTree } });
  github.reply("GET", `${repoPath}/git/trees/${baseTree}?recursive=true`, 200, {
    sha: baseTree,
    truncated: false,
    tree: [
      { path: "README.md", mode: "100644", type: "blob", sha: "0".repeat(40) },
      { path: "apps", mode: "040000", type: "tree", sha: "1".repeat(40) },
      { path: "apps/podinfo.yaml", mode: "100644", type: "blob", sha: deploymentBlob },
      { path: "infra/podinfo.yaml", mode: "100644", type: "blob", sha: outsideBlob },
    ],
  });
  const pullsRoute = github.reply("GET", `${repoPath}/pulls`, 200, pulls);
  github.reply("GET", `${repoPath}/git/blobs/${deploymentBlob}`, 200, {
    sha: deploymentBlob,
    encoding: "base64",
    content: Buffer.from(deployment(deployedTag)).toString("base64"),
  });
  return pullsRoute;
}

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
// Octokit logs 404s it was asked to make (the branch probe); the test asserts them instead.
const octokit = () => new Octokit({ auth: "ghs_test", log: quiet });
const sync = (tag: string) =>
  syncImageUpdatePullRequest({
    octokit: octokit(),
    owner: "acme",
    repo: "fleet",
    automation,
    latest: latest(tag),
  });

describe("image update pull requests", () => {
  let github: GitHubMock | undefined;
  afterEach(() => github?.cleanup());

  test("opens one PR with a git-data-API commit that changes only the marked value", async () => {
    github = mockGitHub();
    const pulls = baseReads(github, "5.0.0", []);
    const tree = github.reply("POST", `${repoPath}/git/trees`, 201, { sha: newTree });
    const commit = github.reply("POST", `${repoPath}/git/commits`, 201, { sha: newCommit });
    github.reply("GET", `${repoPath}/git/ref/heads%2Fgitops-bot%2Fimage-updates%2Fapps`, 404, {
      message: "Not Found",
    });
    const ref = github.reply("POST", `${repoPath}/git/refs`, 201, {
      ref: `refs/heads/${branch}`,
      object: { sha: newCommit },
    });
    const created = github.reply("POST", `${repoPath}/pulls`, 201, { number: 7 });

    const outcome = await sync("5.2.1");

    expect(outcome).toMatchObject({ action: "created", number: 7, branch, base: "main", rejected: [] });
    expect(pulls.requests[0]?.path).toBe(
      `${repoPath}/pulls?head=acme%3A${encodeURIComponent(branch)}&base=main&state=all&per_page=100`,
    );
    expect(tree.requests[0]?.body).toEqual({
      base_tree: baseTree,
      tree: [{ path: "apps/podinfo.yaml", mode: "100644", type: "blob", content: deployment("5.2.1") }],
    });
    // No author or committer: GitHub then signs the app's commit, and it shows as verified.
    expect(commit.requests[0]?.body).toEqual({
      message: "Update images (flux-system/apps)\n\n- ghcr.io/stefanprodan/podinfo: 5.0.0 → 5.2.1\n",
      tree: newTree,
      parents: [baseSha],
    });
    expect(ref.requests[0]?.body).toEqual({ ref: `refs/heads/${branch}`, sha: newCommit });
    const body = (created.requests[0]?.body ?? {}) as {
      title: string;
      head: string;
      base: string;
      body: string;
    };
    expect(body.title).toBe("Update images: podinfo 5.2.1");
    expect(body.head).toBe(branch);
    expect(body.base).toBe("main");
    expect(body.body).toContain("| Image | Old → New | Files |");
    expect(body.body).toContain(
      "| `ghcr.io/stefanprodan/podinfo` | `5.0.0` → `5.2.1` | `apps/podinfo.yaml` |",
    );
    expect(readMarker(body.body)).toEqual({
      automation: "flux-system/apps",
      proposal: { "flux-system/podinfo": "5.2.1" },
    });
    github.done();
  });

  test("a later scan force-updates the same branch and PR instead of opening another", async () => {
    github = mockGitHub();
    baseReads(github, "5.0.0", [pull(7, "open", marker({ "flux-system/podinfo": "5.1.0" }))]);
    github.reply("POST", `${repoPath}/git/trees`, 201, { sha: newTree });
    github.reply("POST", `${repoPath}/git/commits`, 201, { sha: newCommit });
    github.reply("GET", `${repoPath}/git/ref/heads%2Fgitops-bot%2Fimage-updates%2Fapps`, 200, {
      ref: `refs/heads/${branch}`,
      object: { sha: "9".repeat(40) },
    });
    const moved = github.reply(
      "PATCH",
      `${repoPath}/git/refs/heads%2Fgitops-bot%2Fimage-updates%2Fapps`,
      200,
      { ref: `refs/heads/${branch}` },
    );
    const updated = github.reply("PATCH", `${repoPath}/pulls/7`, 200, { number: 7 });

    const outcome = await sync("5.2.1");

    expect(outcome).toMatchObject({ action: "updated", number: 7 });
    expect(moved.requests[0]?.body).toEqual({ sha: newCommit, force: true });
    expect(readMarker((updated.requests[0]!.body as { body: string }).body)?.proposal).toEqual({
      "flux-system/podinfo": "5.2.1",
    });
    github.done();
  });

  test("leaves an open PR alone when it already proposes the newest tags", async () => {
    github = mockGitHub();
    baseReads(github, "5.0.0", [pull(7, "open", marker({ "flux-system/podinfo": "5.2.1" }))]);

    expect(await sync("5.2.1")).toMatchObject({ action: "unchanged", number: 7 });
    github.done();
  });

  test("closes the PR with a comment when the base branch already has the newest tags", async () => {
    github = mockGitHub();
    baseReads(github, "5.2.1", [pull(7, "open", marker({ "flux-system/podinfo": "5.2.1" }))]);
    const comment = github.reply("POST", `${repoPath}/issues/7/comments`, 201, { id: 1 });
    const closed = github.reply("PATCH", `${repoPath}/pulls/7`, 200, { number: 7 });

    expect(await sync("5.2.1")).toMatchObject({ action: "closed", number: 7, changes: [] });
    expect((comment.requests[0]!.body as { body: string }).body).toBe(
      "The newest images chosen by the policies of `flux-system/apps` are already in `main`; closing.",
    );
    const patch = closed.requests[0]!.body as { state: string; body: string };
    expect(patch.state).toBe("closed");
    // Closed by the bot, not rejected by the team: the marker says so.
    expect(readMarker(patch.body)).toEqual({
      automation: "flux-system/apps",
      proposal: { "flux-system/podinfo": "5.2.1" },
      outcome: "in-base",
    });
    github.done();
  });

  test("does not propose a tag again after the team closed its PR unmerged, and proposes a newer one", async () => {
    github = mockGitHub();
    const rejectedPulls = [
      pull(7, "closed", marker({ "flux-system/podinfo": "5.2.1" })),
      pull(5, "closed", marker({ "flux-system/podinfo": "5.1.0" }), true),
    ];
    baseReads(github, "5.0.0", rejectedPulls);

    expect(await sync("5.2.1")).toMatchObject({
      action: "none",
      changes: [],
      rejected: ["flux-system/podinfo=5.2.1"],
    });
    github.done();

    github = mockGitHub();
    baseReads(github, "5.0.0", rejectedPulls);
    github.reply("POST", `${repoPath}/git/trees`, 201, { sha: newTree });
    github.reply("POST", `${repoPath}/git/commits`, 201, { sha: newCommit });
    github.reply("GET", `${repoPath}/git/ref/heads%2Fgitops-bot%2Fimage-updates%2Fapps`, 200, {
      ref: `refs/heads/${branch}`,
      object: { sha: "9".repeat(40) },
    });
    github.reply("PATCH", `${repoPath}/git/refs/heads%2Fgitops-bot%2Fimage-updates%2Fapps`, 200, {});
    const created = github.reply("POST", `${repoPath}/pulls`, 201, { number: 8 });

    expect(await sync("5.3.0")).toMatchObject({ action: "created", number: 8, rejected: [] });
    expect((created.requests[0]!.body as { title: string }).title).toBe("Update images: podinfo 5.3.0");
    github.done();
  });

  test("git.push.branch under the bot's prefix is used, force-pushed like the default branch", async () => {
    github = mockGitHub();
    const custom = "gitops-bot/image-updates/team-a";
    baseReads(github, "5.0.0", []);
    github.reply("POST", `${repoPath}/git/trees`, 201, { sha: newTree });
    github.reply("POST", `${repoPath}/git/commits`, 201, { sha: newCommit });
    github.reply("GET", `${repoPath}/git/ref/${encodeURIComponent(`heads/${custom}`)}`, 200, {
      ref: `refs/heads/${custom}`,
      object: { sha: "9".repeat(40) },
    });
    const moved = github.reply(
      "PATCH",
      `${repoPath}/git/refs/${encodeURIComponent(`heads/${custom}`)}`,
      200,
      {},
    );
    const created = github.reply("POST", `${repoPath}/pulls`, 201, { number: 9 });

    const outcome = await syncImageUpdatePullRequest({
      octokit: octokit(),
      owner: "acme",
      repo: "fleet",
      automation: withPushBranch(custom),
      latest: latest("5.2.1"),
    });
    expect(outcome).toMatchObject({ action: "created", branch: custom, base: "main" });
    expect(moved.requests[0]?.body).toEqual({ sha: newCommit, force: true });
    expect((created.requests[0]!.body as { head: string }).head).toBe(custom);
    github.done();
  });

  test("git.push.branch equal to the base opens a PR from the bot's branch; the base is never written", async () => {
    github = mockGitHub();
    baseReads(github, "5.0.0", []);
    github.reply("POST", `${repoPath}/git/trees`, 201, { sha: newTree });
    github.reply("POST", `${repoPath}/git/commits`, 201, { sha: newCommit });
    github.reply("GET", `${repoPath}/git/ref/heads%2Fgitops-bot%2Fimage-updates%2Fapps`, 404, {
      message: "Not Found",
    });
    const ref = github.reply("POST", `${repoPath}/git/refs`, 201, { ref: `refs/heads/${branch}` });
    github.reply("POST", `${repoPath}/pulls`, 201, { number: 10 });

    const outcome = await syncImageUpdatePullRequest({
      octokit: octokit(),
      owner: "acme",
      repo: "fleet",
      automation: withPushBranch("main"),
      latest: latest("5.2.1"),
    });
    expect(outcome).toMatchObject({ action: "created", branch, base: "main" });
    expect((ref.requests[0]!.body as { ref: string }).ref).toBe(`refs/heads/${branch}`);
    github.done();
  });

  test.each([
    ["the default branch while checkout is another", "main", "develop"],
    ["another team's branch", "team-b/feature", "main"],
    ["a release branch", "release-1.0", "main"],
    ["a branch that only looks like the prefix", "gitops-bot/image-updatesX", "main"],
  ])(
    "git.push.branch naming %s is refused before anything is written",
    async (_label, pushBranch, checkout) => {
      // No GitHub route at all: any request would be unmatched and fail done().
      github = mockGitHub();
      const error = await syncImageUpdatePullRequest({
        octokit: octokit(),
        owner: "acme",
        repo: "fleet",
        automation: withPushBranch(pushBranch, checkout),
        latest: latest("5.2.1"),
      }).catch((e: unknown) => e);
      expect((error as Error).message).toBe(
        `clusters/dev/automation.yaml: ImageUpdateAutomation/flux-system/apps: spec.git.push.branch: ` +
          `${JSON.stringify(pushBranch)} is not a branch of this bot: it only pushes (with force) to branches under ` +
          `gitops-bot/image-updates/ and proposes them as pull requests to ${JSON.stringify(checkout)}. Name a branch ` +
          "under gitops-bot/image-updates/, or remove git.push.branch to use gitops-bot/image-updates/apps",
      );
      github.done();
    },
  );

  test("the branch rule applies to a caller's explicit branch too", () => {
    expect(() => imageUpdateBranch(automation, "main", "main")).toThrow("is not a branch of this bot");
    expect(() => imageUpdateBranch(automation, "main", "gitops-bot/image-updates/")).toThrow(
      "is not a branch of this bot",
    );
    expect(imageUpdateBranch(automation, "main")).toBe(branch);
  });

  test.each([
    ["-f", "must not begin with '-'"],
    ["a..b", "must not contain '..'"],
    ["refs/heads/x:main", "no spaces, control characters"],
  ])("git.push.branch %j is not a branch name at all: refused when read", (pushBranch, why) => {
    expect(() => withPushBranch(pushBranch)).toThrow(
      `clusters/dev/automation.yaml: ImageUpdateAutomation/flux-system/apps: spec.git.push.branch: ${JSON.stringify(pushBranch)} is not a valid git branch name (${why}`,
    );
  });
});

function withPushBranch(pushBranch: string, checkout = "main"): ImageUpdateAutomation {
  return readImageAutomationObjects(
    parseManifests(
      `apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageUpdateAutomation
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 30m
  sourceRef:
    kind: GitRepository
    name: flux-system
  git:
    checkout:
      ref:
        branch: ${JSON.stringify(checkout)}
    push:
      branch: ${JSON.stringify(pushBranch)}
  update:
    path: ./apps
    strategy: Setters
`,
      "clusters/dev/automation.yaml",
    ),
  ).automations[0]!;
}
