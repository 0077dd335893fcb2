// gitops-bot as a GitHub App under test: probot with test credentials, the operator's configuration pointing at
// the harness's real API server, and helpers that serve a repository (its .github/gitops.yaml and its tarball
// at a commit) through the OpenAPI-checked GitHub mock.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { Probot, ProbotOctokit } from "probot";
import { inject } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { type OperatorConfig, operatorConfigSchema } from "../../src/config/operator-config.js";
import type { JobDeps } from "../../src/github/jobs/types.js";
import { createGitOpsApp, type GitOpsApp } from "../../src/index.js";
import type { GitHubMock, MockedRoute } from "./github-mock.js";
import { createNamespace } from "./kube.js";
import { createTestProbot, webhookExample } from "./probot.js";
import { fluxKustomization, makeRepo } from "./repo-tree.js";

export const OWNER = "Codertocat";
export const REPO = "Hello-World";
export const INSTALLATION_ID = 2311213; // the installation id in @octokit/webhooks-examples

export interface TestBot {
  probot: Probot;
  app: GitOpsApp;
}

export async function startBot(
  opts: {
    operator?: unknown;
    engine?: JobDeps["engine"];
    Octokit?: typeof ProbotOctokit;
    onImageScan?: (automation: string, action: string) => void;
    /** GitHub Enterprise Server API root, e.g. https://ghe.example.com/api/v3. */
    baseUrl?: string;
  } = {},
): Promise<TestBot> {
  const operator: OperatorConfig = operatorConfigSchema.parse(
    opts.operator ?? {
      clusters: [{ name: "dev", kubeconfig: inject("kubeconfigPath"), repositories: [`${OWNER}/${REPO}`] }],
      // Image automation has its own tests (test/github/images.test.ts); here it would only add requests.
      images: { enabled: false },
    },
  );
  const app = createGitOpsApp({
    operator,
    engine: { skipHealth: false, ...opts.engine },
    ...(opts.onImageScan ? { onImageScan: opts.onImageScan } : {}),
    ...(opts.baseUrl ? { githubHost: new URL(opts.baseUrl).hostname } : {}),
  });
  const probot = await createTestProbot(app.appFn, {
    ...(opts.Octokit ? { Octokit: opts.Octokit } : {}),
    ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}),
  });
  return { probot, app };
}

/**
 * A repository with one Kustomization `apps` in a new namespace, its cluster path `clusters/<ns>` (so every test
 * has its own inventory scope) and `objects(ns)` as the files of `apps/<ns>/`.
 */
export async function appsRepo(
  api: RawObjectApi,
  prefix: string,
  objects: (ns: string) => Record<string, string>,
) {
  const ns = await createNamespace(api, prefix);
  const clusterPath = `clusters/${ns}`;
  const dir = makeRepo({
    [`${clusterPath}/apps.yaml`]: fluxKustomization({
      name: "apps",
      namespace: ns,
      path: `./apps/${ns}`,
      extra: `  targetNamespace: ${ns}\n`,
    }),
    ...Object.fromEntries(Object.entries(objects(ns)).map(([f, c]) => [`apps/${ns}/${f}`, c])),
  });
  return { ns, clusterPath, dir };
}

/** The installation every test payload comes from. */
export const INSTALLATION = { id: INSTALLATION_ID, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==" };

/** GitHub's example push to a branch, for commit `sha` on `ref`, from the test installation. */
export function pushExample(sha: string, ref = "refs/heads/master") {
  const payload = webhookExample("push", (p) => p.ref === "refs/heads/master" && Boolean(p.installation));
  payload.ref = ref;
  payload.after = sha;
  payload.installation = INSTALLATION;
  return payload;
}

/** GitHub's example pull_request `action` event with head commit `headSha`, from the test installation. */
export function pullRequestExample(action: "opened" | "synchronize", headSha: string) {
  const payload = webhookExample("pull_request", (p) => p.action === action && Boolean(p.installation));
  payload.pull_request.head.sha = headSha;
  return Object.assign(payload, { installation: INSTALLATION });
}

export function randomSha(): string {
  return randomBytes(20).toString("hex");
}

/** A gzipped tarball of `dir` laid out as GitHub's tarball endpoint serves it (`owner-repo-sha/...`). */
export function tarballOf(dir: string, sha: string): Buffer {
  return execFileSync(
    "tar",
    ["-czf", "-", "-C", dir, `--transform=s,^\\.,${OWNER}-${REPO}-${sha.slice(0, 7)},`, "."],
    { maxBuffer: 256 * 1024 * 1024 },
  );
}

/** `.github/gitops.yaml` on the default branch, as the contents API returns it. */
export function replyRepoConfig(github: GitHubMock, text: string | null, times = 1): MockedRoute {
  const path = /^\/repos\/Codertocat\/Hello-World\/contents\/\.github(%2F|\/)gitops\.yaml$/;
  if (text === null) return github.reply("GET", path, 404, { message: "Not Found" }, { times });
  return github.reply(
    "GET",
    path,
    200,
    {
      type: "file",
      encoding: "base64",
      size: text.length,
      name: "gitops.yaml",
      path: ".github/gitops.yaml",
      content: Buffer.from(text).toString("base64"),
      sha: randomSha(),
      url: "https://api.github.com/repos/Codertocat/Hello-World/contents/.github/gitops.yaml",
      git_url: null,
      html_url: null,
      download_url: null,
      _links: { self: "", git: null, html: null },
    },
    { times },
  );
}

export function replyTarball(
  github: GitHubMock,
  dir: string,
  sha: string,
  opts: { times?: number; delayMs?: number } = {},
): MockedRoute {
  return github.reply("GET", `/repos/${OWNER}/${REPO}/tarball/${sha}`, 200, tarballOf(dir, sha), {
    times: opts.times ?? 1,
    headers: { "content-type": "application/x-gzip" },
    ...(opts.delayMs ? { delayMs: opts.delayMs } : {}),
  });
}

/** The branch head the reconcile job checks before applying (deliveries can arrive out of order). */
export function replyBranchHead(github: GitHubMock, sha: string, branch = "master"): MockedRoute {
  return github.reply("GET", `/repos/${OWNER}/${REPO}/git/ref/heads%2F${branch}`, 200, {
    ref: `refs/heads/${branch}`,
    object: { sha, type: "commit" },
  });
}

/** Commit statuses the bot posted, last state per context. */
export function finalStatuses(route: MockedRoute): Record<string, { state: string; description: string }> {
  const out: Record<string, { state: string; description: string }> = {};
  for (const r of route.requests) {
    const body = r.body as { context: string; state: string; description: string };
    out[body.context] = { state: body.state, description: body.description };
  }
  return out;
}

export function repoConfigYaml(
  clusters: { name: string; path: string; branch?: string; environment?: string }[],
  extra = "",
): string {
  return `clusters:\n${clusters
    .map(
      (c) =>
        `  - name: ${c.name}\n    path: ${c.path}\n${c.branch ? `    branch: ${c.branch}\n` : ""}${c.environment ? `    environment: ${c.environment}\n` : ""}`,
    )
    .join("")}${extra}`;
}
