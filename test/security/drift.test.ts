// Attacks on the drift report, through probot.receive with the real API server: someone with write access to the
// cluster edits a managed Secret and picks a field manager name meant to inject markdown into the drift issue.
// The Secret's values (Git's and the edited one, in every encoding) never appear in the issue, the check run, the
// statuses or the logs; the manager's name stays inert text in a code span; the Secret is put back.
import { generateKeyPairSync } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import { Probot, ProbotOctokit } from "probot";
import { afterEach, describe, expect, inject, it } from "vitest";
import { operatorConfigSchema } from "../../src/config/operator-config.js";
import { createGitOpsApp } from "../../src/index.js";
import { answerStatuses, base, replyReconcile } from "../drift/github-runs.js";
import { bufferLogger } from "../notify/support.js";
import { appsRepo, INSTALLATION_ID, OWNER, pushExample, REPO, randomSha } from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { PatchStrategy, testObjectApi } from "../support/kube.js";
import { receive } from "../support/probot.js";

const CANARY_GIT = "drift-canary-in-git-7Hq2";
const CANARY_EDIT = "drift-canary-edited-Zp94";
const EVIL_MANAGER =
  "evil @acme/admins <img src=x onerror=alert(1)> | ``` <!-- gitops-bot:drift cluster=prod -->";

let github: GitHubMock | undefined;
let statuses: ReturnType<typeof answerStatuses> | undefined;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  github?.cleanup();
  statuses?.stop();
  for (const c of cleanups.splice(0)) await c();
});

const TestOctokit = ProbotOctokit.defaults(
  (options: NonNullable<ConstructorParameters<typeof ProbotOctokit>[0]>) => ({
    ...options,
    retry: { enabled: false },
    throttle: { ...options.throttle, enabled: false },
  }),
);

/** Every form a value could leak in: as is, base64 (standard and URL-safe, unpadded). */
function forms(value: string): string[] {
  const b64 = Buffer.from(value).toString("base64");
  return [value, b64, b64.replace(/=+$/, ""), Buffer.from(value).toString("base64url")];
}

async function startBotWithLogs() {
  const logs = bufferLogger();
  const app = createGitOpsApp({
    operator: operatorConfigSchema.parse({
      clusters: [{ name: "dev", kubeconfig: inject("kubeconfigPath"), repositories: [`${OWNER}/${REPO}`] }],
      images: { enabled: false },
    }),
    engine: { skipHealth: false },
  });
  const privateKey = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  }).privateKey;
  const probot = new Probot({ appId: 123, privateKey, log: logs.log, Octokit: TestOctokit });
  await probot.load(app.appFn);
  cleanups.push(() => app.close());
  return { app, probot, logs };
}

describe("drift report attacks", () => {
  it("a drifted Secret's values never reach the issue, the check run, the statuses or the logs", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await appsRepo(api, "driftsec", () => ({
      "secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: db
type: Opaque
data:
  password: ${Buffer.from(CANARY_GIT).toString("base64")}
  user: ${Buffer.from("app").toString("base64")}
`,
    }));
    const sha = randomSha();
    statuses = answerStatuses(sha);
    const bot = await startBotWithLogs();
    const run = async () => {
      await receive(bot.probot, "push", pushExample(sha));
      await bot.app.queue.idle();
    };

    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyReconcile(github, { sha, dir, clusterPath, checkRun: 31 });
    await run();
    github.done();

    await api.patch(
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "db", namespace: ns },
        data: { password: Buffer.from(CANARY_EDIT).toString("base64") },
      } as KubernetesObject,
      undefined,
      undefined,
      EVIL_MANAGER,
      undefined,
      PatchStrategy.MergePatch,
    );
    github = mockGitHub();
    const checkRun = replyReconcile(github, { sha, dir, clusterPath, checkRun: 32 });
    github.reply("GET", `${base}/issues`, 200, []);
    const opened = github.reply("POST", `${base}/issues`, 201, { id: 1, number: 9 });
    await run();
    github.done();

    const issue = opened.requests[0]?.body as { title: string; body: string };
    expect(issue.body).toContain(`Secret/${ns}/db`);
    expect(issue.body).toContain("`data.password`");
    expect(issue.body).toContain("*** (before)");
    const everything = [
      issue.body,
      JSON.stringify(checkRun.requests),
      JSON.stringify(statuses.bodies),
      bot.logs.text(),
    ].join("\n");
    for (const canary of [CANARY_GIT, CANARY_EDIT]) {
      for (const form of forms(canary)) expect(everything).not.toContain(form);
    }

    // The manager's name is inert: in one code span, its pipe escaped, no backtick, no second marker.
    const row = issue.body.split("\n").find((l) => l.includes(`Secret/${ns}/db`)) ?? "";
    expect(row).toContain(
      "`evil @acme/admins <img src=x onerror=alert(1)> \\| ''' <!-- gitops-bot:drift cluster=prod -->`",
    );
    expect(row.split(" | ")).toHaveLength(5);
    expect(issue.body.startsWith("<!-- gitops-bot:drift cluster=dev -->")).toBe(true);
    const live = (await api.read({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db", namespace: ns },
    })) as KubernetesObject & { data: Record<string, string> };
    expect(Buffer.from(live.data.password ?? "", "base64").toString()).toBe(CANARY_GIT);
  });

  it("a Secret's value copied into a drifted ConfigMap is masked in the issue's diff", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await appsRepo(api, "driftcopy", () => ({
      "secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: ${CANARY_GIT}
`,
      "settings.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: safe
`,
    }));
    const sha = randomSha();
    statuses = answerStatuses(sha);
    const bot = await startBotWithLogs();
    const run = async () => {
      await receive(bot.probot, "push", pushExample(sha));
      await bot.app.queue.idle();
    };
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyReconcile(github, { sha, dir, clusterPath, checkRun: 41 });
    await run();
    github.done();

    await api.patch(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "settings", namespace: ns },
        data: { mode: CANARY_GIT },
      },
      undefined,
      undefined,
      "kubectl-edit",
      undefined,
      PatchStrategy.MergePatch,
    );
    github = mockGitHub();
    replyReconcile(github, { sha, dir, clusterPath, checkRun: 42 });
    github.reply("GET", `${base}/issues`, 200, []);
    const opened = github.reply("POST", `${base}/issues`, 201, { id: 2, number: 10 });
    await run();
    github.done();

    const issue = opened.requests[0]?.body as { body: string };
    expect(issue.body).toContain(`ConfigMap/${ns}/settings`);
    expect(issue.body).toContain("`data.mode`");
    for (const form of forms(CANARY_GIT)) {
      expect(issue.body).not.toContain(form);
      expect(bot.logs.text()).not.toContain(form);
    }
  });
});
