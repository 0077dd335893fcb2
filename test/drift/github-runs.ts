// Helpers for driving reconciles of one commit again and again through the GitHub job path (a push delivered
// again with a new delivery id) and answering what every such run writes beside the drift issue.
import nock from "nock";
import { replyPushHead } from "../support/branch-head-nock.js";
import {
  OWNER,
  REPO,
  replyRepoConfig,
  replyTarball,
  repoConfigYaml,
  tarballOf,
} from "../support/github-app.js";
import { GITHUB_API_URL, type GitHubMock } from "../support/github-mock.js";
import { checkGitHubRequest } from "../support/github-openapi.js";

export const base = `/repos/${OWNER}/${REPO}`;

/**
 * Commit statuses, answered however many a run sends: how many it writes is the status reporter's business
 * (test/github/push.test.ts), and re-runs of one commit skip the statuses this process already wrote. Each
 * request is still checked against GitHub's OpenAPI description.
 */
export function answerStatuses(sha: string) {
  const violations: string[] = [];
  const bodies: unknown[] = [];
  const interceptor = nock(GITHUB_API_URL).persist().post(`${base}/statuses/${sha}`);
  interceptor.reply((uri, body) => {
    const decoded = typeof body === "string" && body ? JSON.parse(body) : body;
    try {
      checkGitHubRequest({ method: "POST", path: uri, body: decoded, baseUrl: GITHUB_API_URL });
    } catch (err) {
      violations.push((err as Error).message);
      return [422, { message: (err as Error).message }];
    }
    bodies.push(decoded);
    return [201, { id: 1 }];
  });
  return {
    bodies,
    violations,
    stop: () => {
      nock.removeInterceptor(interceptor);
    },
  };
}

/** The requests of one push reconcile of `sha` on cluster `dev`, but the statuses and the drift issue's. */
export function replyReconcile(
  github: GitHubMock,
  opts: { sha: string; dir: string; clusterPath: string; checkRun: number },
) {
  replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: opts.clusterPath }]));
  github.reply("POST", `${base}/check-runs`, 201, { id: opts.checkRun });
  replyPushHead(github, opts.sha);
  replyTarball(github, opts.dir, opts.sha);
  return github.reply(
    "PATCH",
    `${base}/check-runs/${opts.checkRun}`,
    200,
    { id: opts.checkRun },
    { times: 2 },
  );
}

/** An open issue as GitHub lists it, opened by the app. */
export function botIssue(number: number, title: string, body: string) {
  return {
    id: 1000 + number,
    number,
    title,
    body,
    state: "open",
    user: { login: "gitops-bot[bot]", id: 41898282, type: "Bot" },
  };
}

/**
 * Everything a run of `sha` asks GitHub but the drift issue (config, branch head, tarball, check runs,
 * statuses), answered however often it comes: how many a scheduled run sends is the schedule's business
 * (it writes only when something changed). Each request is checked against GitHub's OpenAPI description; the
 * drift issue's requests are left to a strict mock.
 */
export function answerRuns(opts: { sha: string; dir: string; clusterPath: string }) {
  const violations: string[] = [];
  const seen: string[] = [];
  let checkRun = 100;
  const config = repoConfigYaml([{ name: "dev", path: opts.clusterPath }]);
  const tarball = tarballOf(opts.dir, opts.sha);
  const routes: [string, RegExp, (body: unknown) => [number, unknown, Record<string, string>?]][] = [
    ["POST", new RegExp(`^${base}/statuses/${opts.sha}$`), () => [201, { id: 1 }]],
    ["POST", new RegExp(`^${base}/check-runs$`), () => [201, { id: ++checkRun }]],
    ["PATCH", new RegExp(`^${base}/check-runs/\\d+$`), () => [200, { id: checkRun }]],
    [
      "GET",
      new RegExp(`^${base}/git/ref/heads(%2F|/)master$`),
      () => [200, { ref: "refs/heads/master", object: { sha: opts.sha, type: "commit" } }],
    ],
    [
      "GET",
      new RegExp(`^${base}/tarball/${opts.sha}$`),
      () => [200, tarball, { "content-type": "application/x-gzip" }],
    ],
    [
      "GET",
      new RegExp(`^${base}/contents/\\.github(%2F|/)gitops\\.yaml`),
      () => [
        200,
        {
          type: "file",
          encoding: "base64",
          size: config.length,
          name: "gitops.yaml",
          path: ".github/gitops.yaml",
          content: Buffer.from(config).toString("base64"),
          sha: "0".repeat(40),
          url: "",
          git_url: null,
          html_url: null,
          download_url: null,
          _links: { self: "", git: null, html: null },
        },
      ],
    ],
  ];
  const interceptors = routes.map(([method, path, answer]) => {
    const interceptor = nock(GITHUB_API_URL)
      .persist()
      .intercept((uri) => path.test(uri.split("?")[0] ?? uri), method);
    interceptor.reply((uri, body) => {
      const decoded = typeof body === "string" && body ? JSON.parse(body) : body || undefined;
      try {
        checkGitHubRequest({ method, path: uri, body: decoded, baseUrl: GITHUB_API_URL });
      } catch (err) {
        violations.push((err as Error).message);
        return [422, { message: (err as Error).message }];
      }
      seen.push(`${method} ${uri.split("?")[0]}`);
      return answer(decoded);
    });
    return interceptor;
  });
  return {
    violations,
    seen,
    stop: () => {
      for (const i of interceptors) nock.removeInterceptor(i);
    },
  };
}
