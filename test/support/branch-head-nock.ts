// The branch head as the mocked GitHub serves it to a push. A push reads it twice: its push job before queuing
// a reconcile (an older push delivered late queues none), and its reconcile before applying.
import { OWNER, REPO } from "./github-app.js";
import type { GitHubMock, MockedRoute } from "./github-mock.js";

/** Reads of the branch head one applied push makes: its push job's and its reconcile's. */
export const HEAD_READS_PER_PUSH = 2;

const refPath = (branch: string) => `/repos/${OWNER}/${REPO}/git/ref/heads%2F${encodeURIComponent(branch)}`;

/** `sha` as the head of `branch` for `pushes` applied pushes of it (two reads each). */
export function replyPushHead(
  github: GitHubMock,
  sha: string,
  opts: { pushes?: number; branch?: string } = {},
): MockedRoute {
  return replyHeadReads(github, sha, (opts.pushes ?? 1) * HEAD_READS_PER_PUSH, opts.branch);
}

/** `sha` as the head of `branch` for exactly `times` reads (a push job's alone, say, when its run never starts). */
export function replyHeadReads(
  github: GitHubMock,
  sha: string,
  times: number,
  branch = "master",
): MockedRoute {
  return github.reply(
    "GET",
    refPath(branch),
    200,
    { ref: `refs/heads/${branch}`, object: { sha, type: "commit" } },
    { times },
  );
}

/**
 * A branch head that moves: `times` reads, each answered with the head at that moment (`moveTo` moves it, as a
 * push to GitHub would before its webhook is sent). The body is serialised when each request is answered.
 */
export function movingBranchHead(
  github: GitHubMock,
  sha: string,
  times: number,
  branch = "master",
): { route: MockedRoute; moveTo: (sha: string) => void } {
  const body = { ref: `refs/heads/${branch}`, object: { sha, type: "commit" } };
  const route = github.reply("GET", refPath(branch), 200, body, { times });
  return {
    route,
    moveTo: (next) => {
      body.object.sha = next;
    },
  };
}

/** GitHub failing the head read `times` times (a 5xx: the test Octokit does not retry). */
export function failHeadReads(github: GitHubMock, times = 1, branch = "master", status = 500): MockedRoute {
  return github.reply("GET", refPath(branch), status, { message: "Server Error" }, { times });
}

/**
 * GitHub's compare of a pushed commit with a different head the push read (`{sha}...{head}`): `ahead` when the
 * head has moved past it (the push is old), `behind` when the read was stale. `times` compares.
 */
export function replyCompare(
  github: GitHubMock,
  status: "ahead" | "behind" | "identical" | "diverged",
  times = 1,
): MockedRoute {
  return github.reply(
    "GET",
    new RegExp(`^/repos/${OWNER}/${REPO}/compare/[0-9a-f]{40}\\.\\.\\.[0-9a-f]{40}$`),
    200,
    {
      status,
      ahead_by: status === "ahead" ? 1 : 0,
      behind_by: status === "behind" ? 1 : 0,
      total_commits: 0,
      commits: [],
    },
    { times },
  );
}
