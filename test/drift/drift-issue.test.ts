// Drift end to end through the GitHub job path: the same commit reconciled again (a push delivered again with a
// new delivery id) after someone edited a managed Deployment with another field manager. The drift is corrected
// and the cluster's drift issue opened, edited in place on a second drift, closed by the clean run after, and
// nothing is written about drift when nothing changed. GitHub is the OpenAPI-checked mock, the cluster is real.
import type { KubernetesObject } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { RECONCILE_ANNOTATION } from "../../src/cluster/ssa/drift.js";
import {
  appsRepo,
  INSTALLATION_ID,
  pushExample,
  randomSha,
  startBot,
  type TestBot,
} from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { PatchStrategy, testObjectApi } from "../support/kube.js";
import { receive } from "../support/probot.js";
import { configMap } from "../support/repo-tree.js";
import { answerStatuses, base, botIssue, replyReconcile } from "./github-runs.js";

let github: GitHubMock | undefined;
let statuses: ReturnType<typeof answerStatuses> | undefined;
afterEach(() => {
  github?.cleanup();
  statuses?.stop();
});

const web = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: registry.example/web:1.0
`;

async function reconcileAgain(bot: TestBot, sha: string): Promise<void> {
  await receive(bot.probot, "push", pushExample(sha));
  await bot.app.queue.idle();
}

async function editAs(
  api: RawObjectApi,
  manager: string,
  patch: object,
  strategy: PatchStrategy = PatchStrategy.MergePatch,
) {
  await api.patch(patch as KubernetesObject, undefined, undefined, manager, undefined, strategy);
}

async function read(api: RawObjectApi, apiVersion: string, kind: string, name: string, namespace: string) {
  return (await api.read({ apiVersion, kind, metadata: { name, namespace } })) as KubernetesObject & {
    spec?: { replicas?: number };
    data?: Record<string, string>;
  };
}

describe("drift issue", () => {
  it("opens the issue on drift, edits it on a second drift, closes it when clean, and is quiet after", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await appsRepo(api, "drift", () => ({
      "web.yaml": web,
      "manual.yaml": configMap("manual", { mode: "git" }),
    }));
    const sha = randomSha();
    statuses = answerStatuses(sha);
    const bot = await startBot();
    const subject = `Deployment/${ns}/web`;

    // 1. The first reconcile applies; no drift, and no issue was ever open: nothing about drift is written.
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyReconcile(github, { sha, dir, clusterPath, checkRun: 21 });
    await reconcileAgain(bot, sha);
    github.done();

    // 2. Someone scales the Deployment with kubectl edit; someone else takes a ConfigMap out of reconciliation.
    await editAs(api, "kubectl-edit", {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: ns },
      spec: { replicas: 3 },
    });
    await editAs(api, "kubectl-edit", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "manual", namespace: ns, annotations: { [RECONCILE_ANNOTATION]: "disabled" } },
      data: { mode: "cluster" },
    });
    github = mockGitHub();
    replyReconcile(github, { sha, dir, clusterPath, checkRun: 22 });
    const looked = github.reply("GET", `${base}/issues`, 200, []);
    const opened = github.reply("POST", `${base}/issues`, 201, botIssue(5, "Drift on dev", ""));
    await reconcileAgain(bot, sha);
    github.done();

    expect((await read(api, "apps/v1", "Deployment", "web", ns)).spec?.replicas).toBe(1);
    expect((await read(api, "v1", "ConfigMap", "manual", ns)).data?.mode).toBe("cluster");
    expect(looked.requests[0]?.path).toContain("state=open");
    const first = opened.requests[0]?.body as { title: string; body: string };
    expect(first.title).toBe("Drift on dev");
    expect(first.body).toContain("<!-- gitops-bot:drift cluster=dev -->");
    const row = first.body.split("\n").find((l) => l.includes(subject));
    expect(row).toContain("`spec.replicas`");
    expect(row).toContain("`kubectl-edit` (Update, ");
    expect(row).toContain("corrected: applied Git's version again");
    expect(first.body).not.toContain(`ConfigMap/${ns}/manual`);

    // 3. A second drift: the open issue is found by its marker and edited, never a second one.
    await editAs(
      api,
      "kubectl-edit",
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: ns },
        spec: { template: { spec: { containers: [{ name: "app", image: "registry.example/web:hotfix" }] } } },
      },
      PatchStrategy.StrategicMergePatch,
    );
    github = mockGitHub();
    replyReconcile(github, { sha, dir, clusterPath, checkRun: 23 });
    github.reply("GET", `${base}/issues`, 200, [botIssue(5, "Drift on dev", first.body)]);
    const edited = github.reply("PATCH", `${base}/issues/5`, 200, botIssue(5, "Drift on dev", ""));
    await reconcileAgain(bot, sha);
    github.done();
    const second = edited.requests[0]?.body as { body: string };
    expect(second.body).toContain("`spec.template.spec.containers[0].image`");
    expect(second.body).not.toContain("`spec.replicas`");
    const image = (await read(api, "apps/v1", "Deployment", "web", ns)) as unknown as {
      spec: { template: { spec: { containers: { image: string }[] } } };
    };
    expect(image.spec.template.spec.containers[0]?.image).toBe("registry.example/web:1.0");

    // 4. The next reconcile finds no drift: a comment, then the issue is closed.
    github = mockGitHub();
    replyReconcile(github, { sha, dir, clusterPath, checkRun: 24 });
    github.reply("GET", `${base}/issues`, 200, [botIssue(5, "Drift on dev", second.body)]);
    const comment = github.reply("POST", `${base}/issues/5/comments`, 201, { id: 77 });
    const closed = github.reply("PATCH", `${base}/issues/5`, 200, botIssue(5, "Drift on dev", second.body));
    await reconcileAgain(bot, sha);
    github.done();
    expect((comment.requests[0]?.body as { body?: string } | undefined)?.body).toContain(
      `The reconcile of \`${sha.slice(0, 7)}\` found no drift on cluster \`dev\``,
    );
    expect(closed.requests[0]?.body).toEqual({ state: "closed", state_reason: "completed" });

    // 5. Still clean: not one request about drift.
    github = mockGitHub();
    replyReconcile(github, { sha, dir, clusterPath, checkRun: 25 });
    await reconcileAgain(bot, sha);
    github.done();
    expect(statuses.violations).toEqual([]);
  });
});
