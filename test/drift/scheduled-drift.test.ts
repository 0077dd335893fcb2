// Drift found by the schedule: after a push, the Kustomization is reconciled again every spec.interval (simulated
// time) from the same branch head. A Deployment edited with kubectl-edit is restored by the next scheduled
// reconcile and the drift issue opened; a second drift edits it; a clean scheduled run closes it, and the one after says nothing. Only
// the drift issue's requests are held to exact counts (a strict mock); the rest of what the runs ask GitHub is
// answered however often it comes, each request still checked against the OpenAPI description.
import type { KubernetesObject } from "@kubernetes/client-node";
import { afterEach, describe, expect, inject, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { operatorConfigSchema } from "../../src/config/operator-config.js";
import { createGitOpsApp, type GitOpsApp } from "../../src/index.js";
import { ManualClock } from "../../src/schedule/clock.js";
import { appsRepo, INSTALLATION_ID, OWNER, pushExample, REPO, randomSha } from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { PatchStrategy, testObjectApi } from "../support/kube.js";
import { createTestProbot, receive } from "../support/probot.js";
import { answerRuns, base, botIssue } from "./github-runs.js";

const INTERVAL_MS = 10 * 60_000; // fluxKustomization's `interval: 10m`

let github: GitHubMock | undefined;
let runs: ReturnType<typeof answerRuns> | undefined;
let app: GitOpsApp | undefined;
afterEach(async () => {
  github?.cleanup();
  runs?.stop();
  await app?.close();
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

async function editDeployment(api: RawObjectApi, ns: string, spec: object, strategy: PatchStrategy) {
  await api.patch(
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: ns },
      spec,
    } as KubernetesObject,
    undefined,
    undefined,
    "kubectl-edit",
    undefined,
    strategy,
  );
}

async function replicas(api: RawObjectApi, ns: string): Promise<number | undefined> {
  const live = (await api.read({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: ns },
  })) as {
    spec?: { replicas?: number };
  };
  return live.spec?.replicas;
}

describe("drift found by the schedule", () => {
  it("is corrected by the next scheduled reconcile, its issue opened, edited, closed by a clean run, then quiet", async () => {
    const api = testObjectApi();
    const { ns, clusterPath, dir } = await appsRepo(api, "schdrift", () => ({ "web.yaml": web }));
    const sha = randomSha();
    runs = answerRuns({ sha, dir, clusterPath });
    const clock = new ManualClock(Date.now());
    app = createGitOpsApp({
      operator: operatorConfigSchema.parse({
        clusters: [{ name: "dev", kubeconfig: inject("kubeconfigPath"), repositories: [`${OWNER}/${REPO}`] }],
        images: { enabled: false },
        schedule: { enabled: true, jitterPercentage: 0 },
      }),
      engine: { skipHealth: false },
      schedule: { clock },
    });
    const gitops = app;
    const probot = await createTestProbot(gitops.appFn);
    const nextInterval = async () => {
      await clock.advance(INTERVAL_MS + 60_000);
      await gitops.queue.idle();
    };

    // The push: applied, no drift, no issue.
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    await receive(probot, "push", pushExample(sha));
    await gitops.queue.idle();
    github.done();
    const headReads = () => runs?.seen.filter((r) => r.includes("/git/ref/")).length ?? 0;
    const afterPush = headReads();

    // kubectl edit scales it; the next scheduled reconcile (same head) puts it back and opens the issue.
    await editDeployment(api, ns, { replicas: 4 }, PatchStrategy.MergePatch);
    github = mockGitHub();
    github.reply("GET", `${base}/issues`, 200, []);
    const opened = github.reply("POST", `${base}/issues`, 201, botIssue(8, "Drift on dev", ""));
    await nextInterval();
    github.done();
    expect(headReads()).toBeGreaterThan(afterPush);
    expect(await replicas(api, ns)).toBe(1);
    const first = opened.requests[0]?.body as { title: string; body: string };
    expect(first.title).toBe("Drift on dev");
    expect(first.body).toMatch(/`spec\.replicas` \| `kubectl-edit` \(Update, [^)]+\) \| corrected/);

    // A second drift: the same issue, edited.
    await editDeployment(
      api,
      ns,
      { template: { spec: { containers: [{ name: "app", image: "registry.example/web:hotfix" }] } } },
      PatchStrategy.StrategicMergePatch,
    );
    github = mockGitHub();
    github.reply("GET", `${base}/issues`, 200, [botIssue(8, "Drift on dev", first.body)]);
    const edited = github.reply("PATCH", `${base}/issues/8`, 200, botIssue(8, "Drift on dev", ""));
    await nextInterval();
    github.done();
    const second = edited.requests[0]?.body as { body: string };
    expect(second.body).toContain("`spec.template.spec.containers[0].image`");

    // A scheduled run that finds no drift closes the issue (a comment, then closed), and writes nothing else.
    github = mockGitHub();
    github.reply("GET", `${base}/issues`, 200, [botIssue(8, "Drift on dev", second.body)]);
    const comment = github.reply("POST", `${base}/issues/8/comments`, 201, { id: 78 });
    const closed = github.reply("PATCH", `${base}/issues/8`, 200, botIssue(8, "Drift on dev", second.body));
    await nextInterval();
    github.done();
    expect((comment.requests[0]?.body as { body?: string } | undefined)?.body).toContain(
      "found no drift on cluster `dev`",
    );
    expect(closed.requests[0]?.body).toEqual({ state: "closed", state_reason: "completed" });

    // Still clean: quiet — not one request about drift.
    const before = headReads();
    github = mockGitHub();
    await nextInterval();
    github.done();
    expect(headReads()).toBeGreaterThan(before);
    expect(runs.violations).toEqual([]);
  });
});
