// Flux notifications through the GitHub App, black-box: a push through probot.receive (GitHub nock-simulated,
// the API server real) whose tree declares a Provider and an Alert, and a real HTTP receiver on loopback. The
// Provider's address and headers live in a cluster Secret with canary values: they reach the receiver only as
// the request's URL and headers, never its body or a log line. A pull request's dry-run of the same tree sends
// nothing, even when its Provider points at another server.
import { generateKeyPairSync } from "node:crypto";
import { Probot, ProbotOctokit } from "probot";
import { afterEach, describe, expect, inject, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { operatorConfigSchema } from "../../src/config/operator-config.js";
import { DIFF_COMMENT_MARKER } from "../../src/github/views/pr-comment-report.js";
import { createGitOpsApp, type GitOpsApp } from "../../src/index.js";
import { GitOpsMetrics } from "../../src/metrics/index.js";
import type { DeliveryResult } from "../../src/notify/index.js";
import { replyPushHead } from "../support/branch-head-nock.js";
import {
  finalStatuses,
  INSTALLATION_ID,
  OWNER,
  pullRequestExample,
  pushExample,
  REPO,
  randomSha,
  replyRepoConfig,
  replyTarball,
  repoConfigYaml,
} from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { createNamespace, testObjectApi } from "../support/kube.js";
import { receive } from "../support/probot.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";
import { bufferLogger, eventually, type Receiver, startMailReceiver, startReceiver } from "./support.js";

const base = `/repos/${OWNER}/${REPO}`;
const CANARY = "canary-7f3a9c-hunter2-notify";
const CANARY_TOKEN = "tok-9d8e7f6a5b4c3d2e1f";

let github: GitHubMock | undefined;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  github?.cleanup();
  for (const c of cleanups.splice(0)) await c();
});

const TestOctokit = ProbotOctokit.defaults(
  (options: NonNullable<ConstructorParameters<typeof ProbotOctokit>[0]>) => ({
    ...options,
    retry: { enabled: false },
    throttle: { ...options.throttle, enabled: false },
  }),
);
let privateKey: string | undefined;

/** The app as the server builds it, with its logs in a buffer (for the canary) and its own metrics. */
async function startApp(metrics?: GitOpsMetrics) {
  const logs = bufferLogger();
  const deliveries: DeliveryResult[] = [];
  const app: GitOpsApp = createGitOpsApp({
    operator: operatorConfigSchema.parse({
      clusters: [{ name: "dev", kubeconfig: inject("kubeconfigPath"), repositories: [`${OWNER}/${REPO}`] }],
      images: { enabled: false },
    }),
    engine: { skipHealth: false },
    ...(metrics ? { metrics } : {}),
    notifications: { retry: { attempts: 2, baseDelayMs: 50 }, onDelivery: (r) => deliveries.push(r) },
  });
  privateKey ??= generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  }).privateKey;
  const probot = new Probot({ appId: 123, privateKey, log: logs.log, Octokit: TestOctokit });
  await probot.load(app.appFn);
  cleanups.push(() => app.close());
  return { app, probot, logs, deliveries };
}

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  cleanups.push(() => r.close());
  return r;
}

/**
 * A namespace with the Provider's Secret (canary address path and header) and a tree: Kustomization `apps`
 * (a bad ConfigMap makes it fail when `failing`), a `generic` Provider and an Alert for Kustomization/* errors.
 */
async function notifyingRepo(api: RawObjectApi, address: string, opts: { failing: boolean; prefix: string }) {
  const ns = await createNamespace(api, opts.prefix);
  await api.create({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "webhook", namespace: ns },
    stringData: { address: `${address}/hooks/${CANARY_TOKEN}`, headers: `X-Canary: ${CANARY}\n` },
  } as Parameters<typeof api.create>[0]);
  const clusterPath = `clusters/${ns}`;
  const notifications = `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: webhook
  namespace: ${ns}
spec:
  type: generic
  secretRef:
    name: webhook
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: on-failure
  namespace: ${ns}
spec:
  providerRef:
    name: webhook
  eventSeverity: error
  eventSources:
    - kind: Kustomization
      name: '*'
`;
  const dir = makeRepo({
    [`${clusterPath}/apps.yaml`]: fluxKustomization({
      name: "apps",
      namespace: ns,
      path: `./apps/${ns}`,
      extra: `  targetNamespace: ${ns}\n`,
    }),
    [`${clusterPath}/notifications.yaml`]: notifications,
    [`apps/${ns}/good.yaml`]: configMap("good", { a: "1" }),
    ...(opts.failing ? { [`apps/${ns}/bad.yaml`]: configMap("bad", { "not a valid key!": "1" }) } : {}),
  });
  return { ns, clusterPath, dir };
}

function expectNoCanary(text: string) {
  for (const value of [CANARY, CANARY_TOKEN]) {
    expect(text).not.toContain(value);
    expect(text).not.toContain(Buffer.from(value).toString("base64"));
  }
}

function mockPush(sha: string, clusterPath: string, dir: string, checkRunId: number) {
  github = mockGitHub();
  github.installationToken(INSTALLATION_ID);
  replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
  replyPushHead(github, sha);
  replyTarball(github, dir, sha);
  github.reply("POST", `${base}/check-runs`, 201, { id: checkRunId });
  const checkRun = github.reply(
    "PATCH",
    `${base}/check-runs/${checkRunId}`,
    200,
    { id: checkRunId },
    { times: 2 },
  );
  const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 2 });
  return { checkRun, statuses };
}

describe("notifications through the app", () => {
  it("a failing push sends one Flux event to the Alert's generic Provider, Secrets kept out of payload and logs", async () => {
    const api = testObjectApi();
    const hook = await receiver();
    const { ns, clusterPath, dir } = await notifyingRepo(api, hook.url, { failing: true, prefix: "ntf" });
    const sha = randomSha();
    const { statuses } = mockPush(sha, clusterPath, dir, 41);

    const bot = await startApp();
    await receive(bot.probot, "push", pushExample(sha));
    await bot.app.queue.idle();
    await eventually(() => bot.deliveries.length > 0, 15_000);
    github?.done();

    expect(finalStatuses(statuses)["gitops/dev"]?.state).toBe("failure");
    expect(hook.requests).toHaveLength(1);
    const request = hook.requests[0]!;
    expect(request.method).toBe("POST");
    // The Secret's address and headers are where the generic provider puts them, and nowhere else.
    expect(request.url).toBe(`/hooks/${CANARY_TOKEN}`);
    expect(request.headers["x-canary"]).toBe(CANARY);
    expect(request.headers["gotk-component"]).toBe("kustomize-controller");
    const payload = JSON.parse(request.body) as {
      involvedObject: { kind: string; namespace: string; name: string };
      severity: string;
      reason: string;
      message: string;
      metadata: Record<string, string>;
    };
    expect(payload.involvedObject).toMatchObject({ kind: "Kustomization", namespace: ns, name: "apps" });
    expect(payload.severity).toBe("error");
    expect(payload.reason).toMatch(/^(ReconciliationFailed|HealthCheckFailed|BuildFailed|ValidationFailed)$/);
    expect(payload.message).toContain(`ConfigMap/${ns}/bad`);
    expect(payload.metadata).toMatchObject({
      revision: `master@sha1:${sha}`,
      commit: sha,
      cluster: "dev",
      repository: `${OWNER}/${REPO}`,
    });
    expect(bot.deliveries.map((d) => [d.provider, d.alert, d.outcome])).toEqual([
      [`Provider/${ns}/webhook`, `Alert/${ns}/on-failure`, "sent"],
    ]);
    expectNoCanary(request.body);
    const logs = bot.logs.text();
    expect(logs).toContain("notification sent");
    expectNoCanary(logs);
  });

  it("a pull request's dry-run of the same tree sends nothing, whatever its Provider names", async () => {
    const api = testObjectApi();
    const hook = await receiver();
    const { clusterPath, dir } = await notifyingRepo(api, hook.url, { failing: true, prefix: "ntfpr" });
    const head = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyTarball(github, dir, head);
    const statuses = github.reply("POST", `${base}/statuses/${head}`, 201, { id: 1 }, { times: 2 });
    github.reply("GET", `${base}/issues/2/comments`, 200, []);
    const comment = github.reply("POST", `${base}/issues/2/comments`, 201, { id: 98 });

    const bot = await startApp();
    await receive(bot.probot, "pull_request", pullRequestExample("opened", head));
    await bot.app.queue.idle();
    // Longer than a delivery takes on loopback (the push test's arrives in well under a second).
    await new Promise((r) => setTimeout(r, 1_500));
    github.done();

    expect(finalStatuses(statuses)["gitops/diff/dev"]?.state).toBe("failure");
    expect((comment.requests[0]!.body as { body: string }).body).toContain(DIFF_COMMENT_MARKER);
    expect(hook.requests).toEqual([]);
    expect(bot.deliveries).toEqual([]);
    expectNoCanary(bot.logs.text());
  });

  it("Provider and Alert errors are named in the check run; the valid ones still send", async () => {
    const api = testObjectApi();
    const hook = await receiver();
    const { ns, clusterPath, dir } = await notifyingRepo(api, hook.url, { failing: true, prefix: "ntferr" });
    const broken = `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: dangling
  namespace: ${ns}
spec:
  providerRef:
    name: nowhere
  eventSources:
    - kind: Kustomization
      name: '*'
`;
    const { writeTree } = await import("../support/repo-tree.js");
    writeTree(dir, { [`${clusterPath}/broken-alert.yaml`]: broken });
    const sha = randomSha();
    const { checkRun } = mockPush(sha, clusterPath, dir, 42);

    const bot = await startApp();
    await receive(bot.probot, "push", pushExample(sha));
    await bot.app.queue.idle();
    await eventually(() => bot.deliveries.length > 0, 15_000);
    github?.done();

    const final = checkRun.requests[1]?.body as { output: { summary: string } };
    expect(final.output.summary).toContain("### Notifications");
    expect(final.output.summary).toContain(`Alert/${ns}/dangling`);
    expect(final.output.summary).toContain("spec.providerRef.name");
    expect(final.output.summary).toContain(`Provider/${ns}/nowhere is not declared`);
    expect(hook.requests).toHaveLength(1);
  });
});

describe("email through the app", () => {
  it("a failing push mails the on-call list once over SMTP, naming object, reason, revision and cluster", async () => {
    const api = testObjectApi();
    const mail = await startMailReceiver();
    cleanups.push(() => mail.close());
    const ns = await createNamespace(api, "ntfmail");
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "smtp", namespace: ns },
      stringData: { from: "gitops-bot@example.com", to: "oncall@example.com, sre@example.com" },
    } as Parameters<typeof api.create>[0]);
    const clusterPath = `clusters/${ns}`;
    const dir = makeRepo({
      [`${clusterPath}/apps.yaml`]: fluxKustomization({
        name: "apps",
        namespace: ns,
        path: `./apps/${ns}`,
        extra: `  targetNamespace: ${ns}\n`,
      }),
      [`${clusterPath}/notifications.yaml`]: `apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata:
  name: on-call-mail
  namespace: ${ns}
spec:
  type: email
  address: smtp://127.0.0.1:${mail.port}
  secretRef:
    name: smtp
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata:
  name: on-call
  namespace: ${ns}
spec:
  providerRef:
    name: on-call-mail
  eventSeverity: error
  summary: Production deploys
  eventSources:
    - kind: Kustomization
      name: '*'
`,
      [`apps/${ns}/bad.yaml`]: configMap("bad", { "not a valid key!": "1" }),
    });
    const sha = randomSha();
    mockPush(sha, clusterPath, dir, 44);

    const bot = await startApp();
    await receive(bot.probot, "push", pushExample(sha));
    await bot.app.queue.idle();
    await eventually(() => bot.deliveries.length > 0, 15_000);
    github?.done();

    expect(bot.deliveries.map((d) => d.outcome)).toEqual(["sent"]);
    expect(mail.messages).toHaveLength(1);
    const message = mail.messages[0]!;
    expect(message.envelope).toEqual({
      from: "gitops-bot@example.com",
      to: ["oncall@example.com", "sre@example.com"],
    });
    expect(message.parsed.subject).toContain(`Kustomization/${ns}/apps`);
    expect(message.parsed.subject).toContain("Production deploys");
    const body = message.parsed.text ?? "";
    expect(body).toContain(`ConfigMap/${ns}/bad`);
    expect(body).toContain(`master@sha1:${sha}`);
    expect(body).toContain("dev");
  });
});

describe("metrics through the app", () => {
  it("a push records gotk_resource_info and the reconcile duration of its Kustomization", async () => {
    const api = testObjectApi();
    const hook = await receiver();
    const { ns, clusterPath, dir } = await notifyingRepo(api, hook.url, { failing: false, prefix: "met" });
    const sha = randomSha();
    mockPush(sha, clusterPath, dir, 43);
    const metrics = new GitOpsMetrics({ defaultMetrics: false });

    const bot = await startApp(metrics);
    await receive(bot.probot, "push", pushExample(sha));
    await bot.app.queue.idle();
    github?.done();

    const text = await metrics.text();
    const info = text
      .split("\n")
      .find((l) => l.startsWith("gotk_resource_info{") && l.includes(`namespace="${ns}"`));
    expect(info).toBeDefined();
    expect(info).toContain('name="apps"');
    expect(info).toContain('ready="True"');
    expect(info).toContain('customresource_kind="Kustomization"');
    expect(info).toContain('cluster="dev"');
    expect(info).toContain(`revision="master@sha1:${sha}"`);
    const count = (...parts: string[]) =>
      text
        .split("\n")
        .find(
          (l) => l.startsWith("gotk_reconcile_duration_seconds_count{") && parts.every((p) => l.includes(p)),
        );
    expect(count('kind="Kustomization"', 'name="apps"', `namespace="${ns}"`, 'cluster="dev"')).toMatch(
      /\} 1$/,
    );
    // The repository's tarball is the bot's GitRepository: its fetch is timed.
    expect(count('kind="GitRepository"', 'name="flux-system"', 'cluster="dev"')).toBeDefined();
    // A successful run with an error-only Alert sends nothing.
    expect(hook.requests).toEqual([]);
  });
});
