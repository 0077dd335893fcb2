// `/gitops` commands in comments: parsed strictly, refused for people without write access, and turned into
// the same jobs webhooks start. GitHub's example issue_comment payloads, OpenAPI-checked requests.
import { afterEach, describe, expect, it, test } from "vitest";
import { parseCommand } from "../../src/github/commands/parse-command.js";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { inventoryScope } from "../../src/reconcile/scope.js";
import {
  appsRepo,
  INSTALLATION,
  INSTALLATION_ID,
  OWNER,
  REPO,
  randomSha,
  replyRepoConfig,
  repoConfigYaml,
  startBot,
} from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { testObjectApi } from "../support/kube.js";
import { receive, webhookExample } from "../support/probot.js";
import { configMap } from "../support/repo-tree.js";

const base = `/repos/${OWNER}/${REPO}`;
let github: GitHubMock | undefined;
afterEach(() => github?.cleanup());

const diff = { verb: "diff" } as const;

test.each<[string, string, ReturnType<typeof parseCommand>]>([
  ["a command", "/gitops diff", diff],
  [
    "a command among other lines",
    "please run\n/gitops reconcile prod\nthanks",
    { verb: "reconcile", cluster: "prod" },
  ],
  ["a command without argument", "/gitops reconcile", { verb: "reconcile" }],
  ["images", "/gitops images", { verb: "images" }],
  ["suspend everything", "/gitops suspend", { verb: "suspend" }],
  ["suspend one cluster", "/gitops suspend prod", { verb: "suspend", cluster: "prod" }],
  [
    "suspend one Kustomization (flux-system by default)",
    "/gitops suspend prod apps",
    { verb: "suspend", cluster: "prod", kustomization: { namespace: "flux-system", name: "apps" } },
  ],
  [
    "resume a namespaced Kustomization",
    "/gitops resume prod team-a/apps",
    { verb: "resume", cluster: "prod", kustomization: { namespace: "team-a", name: "apps" } },
  ],
  [
    "a suspend whose Kustomization is not a name",
    "/gitops suspend prod ../../kube-system/x",
    { verb: "unknown", text: "/gitops suspend prod ../../kube-system/x" },
  ],
  [
    "a suspend with a cluster that is no DNS label",
    "/gitops suspend Prod_1",
    { verb: "unknown", text: "/gitops suspend Prod_1" },
  ],
  [
    "a suspend with too many words",
    "/gitops suspend a b c",
    { verb: "unknown", text: "/gitops suspend a b c" },
  ],
  ["the bare prefix", "/gitops", { verb: "help" }],
  ["an unknown verb", "/gitops deploy-everything", { verb: "unknown", text: "/gitops deploy-everything" }],
  ["up to 3 spaces of indentation", "   /gitops diff", diff],
  ["a command after a closed ``` fence", "```\ncode\n```\n/gitops diff", diff],
  ["a command after a closed ~~~ fence", "~~~\nx\n~~~\n/gitops diff", diff],
  [
    "a longer fence not closed by a shorter one, then closed",
    "````\n```\n/gitops reconcile\n````\n/gitops diff",
    diff,
  ],
  ["a command after a quote and a blank line", "> quoted\n\n/gitops diff", diff],
  ["a command after an HTML comment", "<!-- note -->\n/gitops diff", diff],
  ["a command after an empty HTML comment", "<!-->\n/gitops diff", diff],
  ["a command after a closed code span", "`inline` text\n/gitops diff", diff],
  ["a code span that contains <!--", "`<!--`\n/gitops diff", diff],
  ["an escaped backtick", "\\`not code\n/gitops diff", diff],
  ["a command after indented code and a blank line", "    indented code\n\n/gitops diff", diff],
  ["a command after a list and a blank line", "- item\n\n/gitops diff", diff],
  ["not a word of its own", "/gitopsdiff", undefined],
  ["no command", "LGTM", undefined],
  ["a quote", "> /gitops diff", undefined],
  ["a quote without a space", ">/gitops diff", undefined],
  ["a lazy line continuing a quote", "> quoted text\n/gitops diff", undefined],
  ["a lazy line continuing a nested quote", "> > nested\n/gitops diff", undefined],
  ["a ``` fence", "```\n/gitops diff\n```", undefined],
  ["a ``` fence with an info string", "```yaml\n/gitops diff\n```", undefined],
  ["a ~~~ fence", "~~~\n/gitops diff\n~~~", undefined],
  ["a ~~~~~ fence with ~~~ inside", "~~~~~\n~~~\n/gitops diff\n~~~~~", undefined],
  ["a ```` fence with ``` inside", "````\n```\n/gitops diff\n````", undefined],
  ["an unclosed fence", "```\n/gitops diff", undefined],
  ["a ~~~ fence with ``` inside", "~~~\n```\n/gitops diff\n~~~", undefined],
  ["a ``` fence with ~~~ inside", "```\n~~~\n/gitops diff\n```", undefined],
  ["a fence indented by 3 spaces", "   ```\n/gitops diff\n   ```", undefined],
  ["a fence after indented code that holds ```", "    ```\n```\n/gitops diff\n```", undefined],
  [
    "a fence that interrupts a line with a backtick in its info",
    "``` a ` b\n```\n/gitops diff\n```",
    undefined,
  ],
  ["indented code", "    /gitops diff", undefined],
  ["indented code with a tab", "\t/gitops diff", undefined],
  ["a paragraph line indented by 4", "text\n    /gitops diff", undefined],
  ["inline code", "`/gitops diff`", undefined],
  ["inline code across lines", "``\n/gitops diff\n``", undefined],
  ["inline code opened on the line before", "see `code\n/gitops diff` here", undefined],
  ["an HTML comment", "<!--\n/gitops diff\n-->", undefined],
  ["an HTML comment on one line", "<!-- /gitops diff -->", undefined],
  ["an HTML comment opened mid-line", "text <!--\n/gitops diff\n-->", undefined],
  ["an unclosed HTML comment", "<!--\n\n/gitops diff", undefined],
  ["<pre>", "<pre>\n/gitops diff\n</pre>", undefined],
  ["<code>", "<code>\n/gitops diff\n</code>", undefined],
  ["<samp>", "<samp>\n/gitops diff\n</samp>", undefined],
  ["<samp> closed on the command's line", "<samp>\n/gitops diff</samp>", undefined],
  ["<xmp>", "<xmp>\n/gitops diff\n</xmp>", undefined],
  ["<XMP> in capitals", "<XMP>\n/gitops diff\n</XMP>", undefined],
  ["<plaintext> (never closed)", "<plaintext>\ntext\n\n/gitops diff", undefined],
  ["a command after a closed <samp>", "<samp>out</samp>\n/gitops diff", diff],
  ["a fence in a list item", "- ```\n  /gitops diff\n  ```", undefined],
  ["a fence in a quote", "> ```\n> /gitops diff", undefined],
  ["a fence in an ordered list item", "1. item\n   ```\n   /gitops diff\n   ```", undefined],
  [
    "a fence after a list item's fence ended with the item",
    "- item\n\n  ```\nfoo\n  ```\n/gitops diff\n",
    undefined,
  ],
  // GitHub would show this one; after a fence-like line inside a comment the scan stops rather than guess.
  ["a command after a comment holding a fence", "<!-- a\n```\n-->\n/gitops diff", undefined],
])("%s: %j", (_case, body, expected) => {
  expect(parseCommand(body)).toEqual(expected);
});

function commentPayload(body: string, opts: { pullRequest?: boolean; userType?: "User" | "Bot" } = {}) {
  const payload = webhookExample("issue_comment", (p) => p.action === "created" && Boolean(p.installation));
  payload.comment.body = body;
  payload.installation = INSTALLATION;
  if (opts.userType && payload.comment.user) payload.comment.user.type = opts.userType;
  if (opts.pullRequest) {
    Object.assign(payload.issue, {
      pull_request: {
        url: `https://api.github.com${base}/pulls/1`,
        html_url: "",
        diff_url: "",
        patch_url: "",
      },
    });
  }
  return payload;
}

const permission = (github: GitHubMock, role: string) =>
  github.reply("GET", `${base}/collaborators/Codertocat/permission`, 200, {
    permission: role === "maintain" ? "write" : role,
    role_name: role,
    user: { login: "Codertocat" },
  });

describe("/gitops commands", () => {
  it("refuses people without write access, and says so", async () => {
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    permission(github, "read");
    const reply = github.reply("POST", `${base}/issues/1/comments`, 201, { id: 1 });
    const bot = await startBot();
    await receive(bot.probot, "issue_comment", commentPayload("/gitops reconcile"));
    await bot.app.queue.idle();
    github.done(); // nothing but the permission check and the reply
    expect((reply.requests[0]!.body as { body: string }).body).toContain("need write access");
  });

  it("re-runs the dry-run diff of a pull request for a writer", async () => {
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    permission(github, "maintain");
    github.reply("GET", `${base}/pulls/1`, 200, {
      number: 1,
      base: { ref: "master", sha: randomSha() },
      head: { ref: "feature", sha: randomSha(), repo: { full_name: `${OWNER}/${REPO}` } },
    });
    const eyes = github.reply("POST", `${base}/issues/comments/492700400/reactions`, 201, {
      id: 1,
      content: "eyes",
    });
    // The diff job: no cluster tracks master in this configuration, so it stops after reading it.
    const config = replyRepoConfig(
      github,
      repoConfigYaml([{ name: "dev", path: "clusters/dev", branch: "release" }]),
    );
    const bot = await startBot();
    const payload = commentPayload("/gitops diff", { pullRequest: true });
    payload.comment.id = 492700400;
    await receive(bot.probot, "issue_comment", payload);
    await bot.app.queue.idle();
    github.done();
    expect(eyes.requests[0]!.body).toEqual({ content: "eyes" });
    expect(config.requests).toHaveLength(1);
  });

  it("reconciles one cluster's branch head on /gitops reconcile <cluster>", async () => {
    const head = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    permission(github, "admin");
    const cfg = repoConfigYaml([
      { name: "dev", path: "clusters/dev" },
      { name: "prod", path: "clusters/prod" },
    ]);
    replyRepoConfig(github, cfg, 2); // the command, then the push job it queues
    github.reply("POST", /\/issues\/comments\/\d+\/reactions$/, 201, { id: 1, content: "eyes" });
    const ref = github.reply("GET", `${base}/git/ref/heads%2Fmaster`, 200, {
      ref: "refs/heads/master",
      object: { sha: head },
    });
    // Only prod, which this server does not know: a failing status and check on the head commit, nothing else.
    const statuses = github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 });
    const check = github.reply("POST", `${base}/check-runs`, 201, { id: 3 });
    const bot = await startBot({ operator: { clusters: [], images: { enabled: false } } });
    await receive(bot.probot, "issue_comment", commentPayload("/gitops reconcile prod"));
    await bot.app.queue.idle();
    github.done();
    expect(ref.requests).toHaveLength(1);
    expect(statuses.requests[0]!.body).toMatchObject({ context: "gitops/prod", state: "failure" });
    expect(check.requests[0]!.body).toMatchObject({ name: "gitops / prod", head_sha: head });
  });

  it("answers /gitops help and unknown verbs with the list of commands, and ignores bots", async () => {
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    permission(github, "write");
    const reply = github.reply("POST", `${base}/issues/1/comments`, 201, { id: 1 });
    const bot = await startBot();
    await receive(bot.probot, "issue_comment", commentPayload("/gitops launch"));
    await receive(bot.probot, "issue_comment", commentPayload("/gitops reconcile", { userType: "Bot" }));
    await bot.app.queue.idle();
    github.done();
    const body = (reply.requests[0]!.body as { body: string }).body;
    expect(body).toContain("I don't know `/gitops launch`");
    expect(body).toContain("`/gitops reconcile [cluster]`");
  });

  describe("suspend and resume", () => {
    /** A Kustomization `apps` reconciled in the cluster from `scope` (this repository's, or another's). */
    async function reconciled(prefix: string, repository = `github.com/${OWNER}/${REPO}`.toLowerCase()) {
      const api = testObjectApi();
      const repo = await appsRepo(api, prefix, () => ({
        "settings.yaml": configMap("settings", { a: "1" }),
      }));
      const scope = inventoryScope(repository, repo.clusterPath);
      const run = await reconcileTree(api, {
        ...defaultReconcileOptions(repo.dir, repo.clusterPath),
        scope,
        skipHealth: true,
      });
      expect(run.errors).toEqual([]);
      return { api, ...repo };
    }
    const suspendedLabel = async (api: ReturnType<typeof testObjectApi>, ns: string) => {
      const cm = await api.read({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "gitops-bot-inventory-apps", namespace: ns },
      });
      return cm.metadata?.labels?.["gitops-bot.dev/suspended"];
    };
    const commandMocks = (mock: GitHubMock, config: string, token = true) => {
      if (token) mock.installationToken(INSTALLATION_ID); // the same bot keeps its token
      permission(mock, "write");
      mock.reply("POST", `${base}/issues/comments/492700401/reactions`, 201, { id: 1, content: "eyes" });
      replyRepoConfig(mock, config);
      return mock.reply("POST", `${base}/issues/1/comments`, 201, { id: 2 });
    };
    const comment = (body: string) => {
      const payload = commentPayload(body);
      payload.comment.id = 492700401;
      return payload;
    };

    it("suspends this repository's Kustomization in the cluster (a label kubectl shows), then resumes it", async () => {
      const { api, ns, clusterPath } = await reconciled("cmdsusp");
      const config = repoConfigYaml([{ name: "dev", path: clusterPath }]);
      github = mockGitHub();
      const reply = commandMocks(github, config);
      const bot = await startBot();
      await receive(bot.probot, "issue_comment", comment(`/gitops suspend dev ${ns}/apps`));
      await bot.app.queue.idle();
      github.done();
      expect((reply.requests[0]!.body as { body: string }).body).toBe(
        `- \`dev\`: suspended \`Kustomization/${ns}/apps\``,
      );
      expect(await suspendedLabel(api, ns)).toBe("true");

      // Resume: the mark goes, and the branch head is reconciled at once (a push job; here it finds no config).
      github = mockGitHub();
      const resumed = commandMocks(github, config, false);
      github.reply("GET", `${base}/git/ref/heads%2Fmaster`, 200, {
        ref: "refs/heads/master",
        object: { sha: randomSha(), type: "commit" },
      });
      replyRepoConfig(github, null);
      await receive(bot.probot, "issue_comment", comment(`/gitops resume dev ${ns}/apps`));
      await bot.app.queue.idle();
      await bot.app.close();
      github.done();
      expect((resumed.requests[0]!.body as { body: string }).body).toBe(
        `- \`dev\`: resumed \`Kustomization/${ns}/apps\``,
      );
      expect(await suspendedLabel(api, ns)).toBeUndefined();
    });

    it("refuses to suspend a Kustomization another repository manages on the same cluster", async () => {
      const { api, ns, clusterPath } = await reconciled("cmdsuspother", "github.com/someone/else");
      github = mockGitHub();
      const reply = commandMocks(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
      const bot = await startBot();
      await receive(bot.probot, "issue_comment", comment(`/gitops suspend dev ${ns}/apps`));
      await bot.app.queue.idle();
      await bot.app.close();
      github.done();
      const body = (reply.requests[0]!.body as { body: string }).body;
      expect(body).toContain(
        `not suspended: Kustomization/${ns}/apps is managed from another repository or path`,
      );
      expect(await suspendedLabel(api, ns)).toBeUndefined();
    });
  });
});
