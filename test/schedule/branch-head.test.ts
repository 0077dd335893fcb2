// Branch heads read with conditional requests: the ETag GitHub sent is sent back as If-None-Match, and a 304
// (which GitHub does not count against the rate limit) answers with the head read last.
import nock from "nock";
import { afterEach, expect, it } from "vitest";
import { BranchHeads } from "../../src/github/branch-head.js";
import { GitOpsOctokit } from "../../src/github/octokit.js";

afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

it("sends If-None-Match with the last ETag and takes a 304 as the same head, counted apart", async () => {
  nock.disableNetConnect();
  const sha = "a".repeat(40);
  const path = "/repos/acme/fleet/git/ref/heads%2Fmain";
  const full = nock("https://api.github.com")
    .get(path)
    .reply(200, { ref: "refs/heads/main", object: { sha, type: "commit" } }, { etag: 'W/"abc"' });
  const notModified = nock("https://api.github.com")
    .get(path)
    .matchHeader("if-none-match", 'W/"abc"')
    .reply(304);
  const github = new GitOpsOctokit({ auth: "ghs_test", retry: { enabled: false } });
  const heads = new BranchHeads();
  const repo = { owner: "acme", repo: "fleet" };
  // biome-ignore lint/suspicious/noExplicitAny: probot's Octokit type and the plugin-extended one differ only in plugins.
  expect(await heads.read(github as any, repo, "main")).toEqual({ sha, notModified: false });
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  expect(await heads.read(github as any, repo, "main")).toEqual({ sha, notModified: true });
  expect(full.isDone() && notModified.isDone()).toBe(true);
  expect(heads.counts).toEqual({ full: 1, notModified: 1 });
});

it("keeps branch names' case apart and forgets the least recently read branch past its capacity", async () => {
  nock.disableNetConnect();
  const ref = (branch: string, sha: string, etag: string) =>
    nock("https://api.github.com")
      .get(`/repos/acme/fleet/git/ref/heads%2F${branch}`)
      .reply(200, { ref: `refs/heads/${branch}`, object: { sha, type: "commit" } }, { etag });
  // Without If-None-Match (no ETag known for the name): a branch that differs only in case is another branch.
  const unconditional = (branch: string, sha: string, etag: string) =>
    nock("https://api.github.com", { badheaders: ["if-none-match"] })
      .get(`/repos/acme/fleet/git/ref/heads%2F${branch}`)
      .reply(200, { ref: `refs/heads/${branch}`, object: { sha, type: "commit" } }, { etag });
  const github = new GitOpsOctokit({ auth: "ghs_test", retry: { enabled: false } });
  // biome-ignore lint/suspicious/noExplicitAny: probot's Octokit type and the plugin-extended one differ only in plugins.
  const gh = github as any;
  const repo = { owner: "acme", repo: "fleet" };
  const heads = new BranchHeads(2);
  ref("main", "a".repeat(40), 'W/"1"');
  const upper = unconditional("Main", "b".repeat(40), 'W/"2"');
  expect((await heads.read(gh, repo, "main")).sha).toBe("a".repeat(40));
  expect((await heads.read(gh, repo, "Main")).sha).toBe("b".repeat(40));
  expect(upper.isDone()).toBe(true);
  // A third branch: "main", read least recently, is forgotten; its next read is unconditional again.
  ref("dev", "c".repeat(40), 'W/"3"');
  await heads.read(gh, repo, "dev");
  const again = unconditional("main", "d".repeat(40), 'W/"4"');
  expect((await heads.read(gh, repo, "main")).sha).toBe("d".repeat(40));
  expect(again.isDone()).toBe(true);
});
