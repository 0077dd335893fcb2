import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { ApplicationFunction } from "probot";
import { afterEach, describe, expect, it } from "vitest";
import { type GitHubMock, mockGitHub } from "./support/github-mock.js";
import { checkGitHubRequest } from "./support/github-openapi.js";
import { createTestProbot, receive, webhookExample } from "./support/probot.js";

// The example push that came through an installation and added commits (others are tag deletions).
const pushExample = () =>
  webhookExample("push", (payload) => payload.installation !== undefined && !payload.deleted);

/** A stand-in for a real handler: reports `state` on the pushed commit. */
const reportStatus =
  (state: "success" | "failure"): ApplicationFunction =>
  (app) => {
    app.on("push", async (context) => {
      await context.octokit.rest.repos.createCommitStatus(
        context.repo({ sha: context.payload.after, state, context: "gitops-bot", description: "Reconciled" }),
      );
    });
  };

describe("mockGitHub with a probot app", () => {
  let github: GitHubMock | undefined;
  // done() cleans up after itself; this covers a test that failed before reaching it.
  afterEach(() => github?.cleanup());

  it("records the commit status a push handler creates, after a real installation token exchange", async () => {
    github = mockGitHub();
    const payload = pushExample();
    const token = github.installationToken(payload.installation!.id);
    const status = github.reply("POST", `/repos/Codertocat/Hello-World/statuses/${payload.after}`, 201, {
      id: 1,
      state: "success",
    });
    const probot = await createTestProbot(reportStatus("success"));

    await receive(probot, "push", payload);

    expect(token.requests).toHaveLength(1);
    expect(status.requests).toEqual([
      {
        method: "POST",
        path: `/repos/Codertocat/Hello-World/statuses/${payload.after}`,
        body: { state: "success", context: "gitops-bot", description: "Reconciled" },
        operationId: "repos/create-commit-status",
      },
    ]);
    github.done();
  });

  it("serves a GitHub Enterprise Server base URL", async () => {
    github = mockGitHub({ baseUrl: "https://ghe.example.com/api/v3" });
    const payload = pushExample();
    github.installationToken(payload.installation!.id);
    const status = github.reply("POST", `/repos/Codertocat/Hello-World/statuses/${payload.after}`, 201, {});
    const probot = await createTestProbot(reportStatus("failure"), { baseUrl: github.baseUrl });

    await receive(probot, "push", payload);

    expect(status.requests[0]?.body).toMatchObject({ state: "failure" });
    github.done();
  });

  it("answers a body GitHub's schema forbids with 422, and done() names the field", async () => {
    github = mockGitHub();
    const payload = pushExample();
    github.installationToken(payload.installation!.id);
    github.reply("POST", `/repos/Codertocat/Hello-World/statuses/${payload.after}`, 201, {});
    // Outside the enum on purpose, as a value read from user config could be.
    const probot = await createTestProbot(reportStatus("bogus" as "success"));

    await expect(receive(probot, "push", payload)).rejects.toThrow(/request body does not match the schema/);

    const failure = doneFailure(github);
    expect(failure).toContain("requests rejected by GitHub's OpenAPI description");
    expect(failure).toContain(`POST /repos/Codertocat/Hello-World/statuses/${payload.after}`);
    expect(failure).toContain("body/state must be equal to one of the allowed values");
  });

  it("fails done() on a request no reply was declared for", async () => {
    github = mockGitHub();
    const payload = pushExample();
    github.installationToken(payload.installation!.id);
    const probot = await createTestProbot(reportStatus("success"));

    await expect(receive(probot, "push", payload)).rejects.toThrow(/No match|Disallowed net connect/);

    const failure = doneFailure(github);
    expect(failure).toContain(
      `requests that matched no declared reply:\n  - POST https://api.github.com/repos/Codertocat/Hello-World/statuses/${payload.after}`,
    );
    // Exactly once: a retrying client would hide how often the code really calls GitHub.
    expect(failure.match(/statuses/g)).toHaveLength(1);
  });

  it("fails done() on a declared reply that was never used", () => {
    github = mockGitHub();
    github.reply("GET", "/repos/octo/unused", 200, {}, { times: 2 });

    expect(doneFailure(github)).toBe(
      "GitHub mock: declared replies that were not used:\n" +
        "  - GET https://api.github.com/repos/octo/unused (expected 2, got 0)",
    );
  });

  it("lets requests to local services through", async () => {
    github = mockGitHub();
    const server = createServer((_request, response) => response.end("local"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/`);
      expect(await response.text()).toBe("local");
    } finally {
      server.close();
    }
    github.done();
  });
});

/** The message done() fails with; fails the test if done() passes. */
function doneFailure(github: GitHubMock): string {
  try {
    github.done();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected done() to fail");
}

describe("checkGitHubRequest", () => {
  it.each([
    ["GET", "/repos/o/r", undefined, "repos/get"],
    [
      "GET",
      "/api/v3/repos/o/r/commits/abc/status",
      "https://ghe.example.com/api/v3",
      "repos/get-combined-status-for-ref",
    ],
    ["GET", "/repos/o/r/git/ref/heads%2Fmain", undefined, "git/get-ref"],
    ["GET", "/repos/o/r/contents/docs%2FREADME.md?ref=main", undefined, "repos/get-content"],
    ["GET", "/repos/o/r/contents/docs/README.md", undefined, "repos/get-content"],
    // `{base}...{head}` is more specific than `{basehead}`; both describe the same request.
    ["GET", "/repos/o/r/compare/main...feature", undefined, "repos/compare-commits"],
    ["DELETE", "/repos/o/r/git/refs/heads/feature/x", undefined, "git/delete-ref"],
    // A literal segment wins over a parameter in the same place (`/orgs/{org}/{security_product}/{enablement}`).
    ["GET", "/orgs/acme/hooks/7", undefined, "orgs/get-webhook"],
  ])("maps %s %s to its operation", (method, path, baseUrl, operationId) => {
    expect(checkGitHubRequest({ method, path, baseUrl })).toBe(operationId);
  });

  it("accepts null where GitHub's description marks a field nullable, enums included", () => {
    const request = {
      method: "PATCH",
      path: "/repos/o/r/issues/1",
      body: { state: "open", state_reason: null },
    };
    expect(checkGitHubRequest(request)).toBe("issues/update");
  });

  it("accepts a valid body, as JSON text or decoded", () => {
    const body = { state: "pending", target_url: null, context: "gitops-bot" };
    const request = { method: "POST", path: "/repos/o/r/statuses/abc" };
    expect(checkGitHubRequest({ ...request, body })).toBe("repos/create-commit-status");
    expect(checkGitHubRequest({ ...request, body: JSON.stringify(body) })).toBe("repos/create-commit-status");
  });

  it("rejects an operation GitHub does not have", () => {
    expect(() => checkGitHubRequest({ method: "DELETE", path: "/repos/o/r/statuses/abc" })).toThrow(
      /DELETE \/repos\/o\/r\/statuses\/abc: no such operation/,
    );
  });

  it("lists every violation of a body, with the allowed values", () => {
    const check = () =>
      checkGitHubRequest({
        method: "POST",
        path: "/repos/o/r/statuses/abc",
        body: JSON.stringify({ state: "bogus", target_url: 7 }),
      });
    expect(check).toThrow(
      /body\/state must be equal to one of the allowed values: error, failure, pending, success/,
    );
    expect(check).toThrow(/body\/target_url must be string/);
  });

  it("requires the body's required fields even when none was sent", () => {
    expect(() => checkGitHubRequest({ method: "POST", path: "/repos/o/r/statuses/abc" })).toThrow(
      /must have required property 'state'/,
    );
  });
});
