// Attack: one repository floods the bot with work (here 100 pull request events) to hold every slot and starve
// everybody else. Through probot.receive, GitHub nock-simulated: the flood past the per-repository bound is
// refused and each refused pull request gets an error status saying so; another repository's work starts at
// once while the flood's first jobs are still running.
import { randomUUID } from "node:crypto";
import { afterEach, expect, it } from "vitest";
import {
  INSTALLATION,
  INSTALLATION_ID,
  pullRequestExample,
  pushExample,
  randomSha,
  replyRepoConfig,
  repoConfigYaml,
  startBot,
} from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { receive } from "../support/probot.js";

let github: GitHubMock | undefined;
afterEach(() => github?.cleanup());

const FLOOD = 100;
const HOLD_MS = 4_000;

it("a flooding repository is bounded and refused with a status; another repository's job starts at once", {
  timeout: 120_000,
}, async () => {
  github = mockGitHub();
  github.installationToken(INSTALLATION_ID);
  const config = repoConfigYaml([{ name: "dev", path: "clusters/dev" }], "pullRequests:\n  diff: false\n");
  // The flood's first four jobs hang on GitHub: enough to hold every slot if the queue let one repository take
  // them all. (The bot lets it run two; the other two held answers go to the first refusals.)
  github.reply(
    "GET",
    /^\/repos\/Codertocat\/Hello-World\/contents\/\.github(%2F|\/)gitops\.yaml$/,
    200,
    configFile(config),
    {
      times: 2,
      delayMs: HOLD_MS,
    },
  );
  replyRepoConfig(github, config, FLOOD - 2);
  const statuses = github.reply(
    "POST",
    /^\/repos\/Codertocat\/Hello-World\/statuses\/[0-9a-f]{40}$/,
    201,
    {},
    {
      times: FLOOD,
    },
  );
  const other = github.reply("GET", /^\/repos\/Other\/Repo\/contents\/\.github(%2F|\/)gitops\.yaml$/, 404, {
    message: "Not Found",
  });

  const bot = await startBot({ operator: { concurrency: 4, images: { enabled: false } } });
  const pullRequest = (n: number) => {
    const payload = pullRequestExample("opened", randomSha());
    payload.number = n;
    payload.pull_request.number = n;
    return receive(bot.probot, "pull_request", payload, randomUUID());
  };
  const started = Date.now();
  for (let n = 1; n <= 52; n++) await pullRequest(n);
  expect(bot.app.queue.size).toEqual({ running: 2, waiting: 50 });

  // Another repository of the same installation pushes: its job runs now, not after the flood.
  const push = pushExample(randomSha());
  Object.assign(push.repository, { name: "Repo", full_name: "Other/Repo" });
  if (push.repository.owner) Object.assign(push.repository.owner, { login: "Other", name: "Other" });
  push.installation = INSTALLATION;
  const pushed = Date.now();
  await receive(bot.probot, "push", push, randomUUID());
  await waitUntil(() => other.requests.length === 1, 2_000);
  expect(Date.now() - pushed).toBeLessThan(2_000);
  // The flood's first jobs are still held: the other repository did not wait for them.
  expect(Date.now() - started).toBeLessThan(HOLD_MS);

  // The rest of the flood is past the bound of 50 waiting: refused, and each pull request told so.
  for (let n = 53; n <= FLOOD; n++) await pullRequest(n);

  await bot.app.queue.idle();
  github.done();
  const descriptions = statuses.requests.map((r) => r.body as { state: string; description: string });
  const refused = descriptions.filter((d) => d.state === "error");
  expect(refused).toHaveLength(FLOOD - 2 - 50);
  expect(refused[0]?.description).toMatch(/^not queued: this repository already has 50 jobs waiting/);
  expect(descriptions.filter((d) => d.state === "success")).toHaveLength(52);
});

function configFile(text: string) {
  return {
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
  };
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
