// A push job restarted on another replica (its first replica was lost after creating the queued check run)
// reuses that check run instead of leaving it queued forever beside a second one. GitHub simulated (nock,
// requests checked against GitHub's OpenAPI description).
import { ProbotOctokit } from "probot";
import { afterEach, describe, expect, test } from "vitest";
import { adoptOpenCheckRunFromGitHub, createQueuedCheckRun } from "../../../src/github/views/check-run.js";
import { type GitHubMock, mockGitHub } from "../../support/github-mock.js";

const repo = { owner: "acme", repo: "fleet" };
const octokit = () =>
  new ProbotOctokit({ auth: { token: "ghs_test" }, retry: { enabled: false }, throttle: { enabled: false } });

let github: GitHubMock | undefined;
afterEach(() => github?.cleanup());

describe("adopting the open check run of a lost start", () => {
  test("an open check run of this cluster is reused; no second one is created", async () => {
    github = mockGitHub();
    const sha = "a".repeat(40);
    const listed = github.reply("GET", new RegExp(`^/repos/acme/fleet/commits/${sha}/check-runs`), 200, {
      total_count: 3,
      check_runs: [
        { id: 41, name: "gitops / dev", external_id: "dev", status: "completed", conclusion: "success" },
        { id: 57, name: "gitops / dev", external_id: "dev", status: "queued" },
        { id: 60, name: "gitops / dev", external_id: "dev", status: "queued" },
      ],
    });
    await adoptOpenCheckRunFromGitHub(octokit(), repo, sha, "dev");
    // No POST route: creating a second check run would fail the mock.
    expect(await createQueuedCheckRun(octokit(), repo, sha, "dev")).toBe(57);
    expect(listed.requests[0]?.path).toContain("check_name=gitops%20%2F%20dev");
    github.done();
  });

  test("with none open, a new check run is created", async () => {
    github = mockGitHub();
    const sha = "b".repeat(40);
    github.reply("GET", new RegExp(`^/repos/acme/fleet/commits/${sha}/check-runs`), 200, {
      total_count: 1,
      check_runs: [{ id: 41, name: "gitops / dev", external_id: "dev", status: "completed" }],
    });
    const created = github.reply("POST", "/repos/acme/fleet/check-runs", 201, { id: 99 });
    await adoptOpenCheckRunFromGitHub(octokit(), repo, sha, "dev");
    expect(await createQueuedCheckRun(octokit(), repo, sha, "dev")).toBe(99);
    expect(created.requests[0]?.body).toMatchObject({ head_sha: sha, status: "queued", external_id: "dev" });
    github.done();
  });
});
