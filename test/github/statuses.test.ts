// The whole set of commit statuses a push gets, compared as a set: Kustomizations (one failing, one held back
// by it) and a HelmRelease, in the layout of fluxcd/flux2-kustomize-helm-example (the HelmRepository in the
// infrastructure Kustomization, the HelmRelease in the apps one). No stray status per HelmRelease, nothing left
// pending, one final status per object, and the check run draws the dependsOn graph.
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { operatorConfigSchema } from "../../src/config/operator-config.js";
import { createGitOpsApp } from "../../src/index.js";
import { replyPushHead } from "../support/branch-head-nock.js";
import {
  finalStatuses,
  INSTALLATION_ID,
  OWNER,
  pushExample,
  REPO,
  randomSha,
  replyRepoConfig,
  replyTarball,
  repoConfigYaml,
} from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import {
  type HelmRepoServer,
  helmReleaseYaml,
  helmRepositoryYaml,
  startHelmRepo,
} from "../support/helm-repo.js";
import { createNamespace, testObjectApi } from "../support/kube.js";
import { createTestProbot, receive } from "../support/probot.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

const base = `/repos/${OWNER}/${REPO}`;
let github: GitHubMock | undefined;
let charts: HelmRepoServer;
beforeAll(async () => {
  charts = await startHelmRepo();
  await charts.addChart({ name: "demo", version: "0.1.0" });
});
afterAll(() => charts?.stop());
afterEach(() => github?.cleanup());

async function exampleRepo() {
  const ns = await createNamespace(testObjectApi(), "ghstatus");
  const clusterPath = `clusters/${ns}`;
  const ks = (name: string, extra = "") =>
    fluxKustomization({
      name,
      namespace: ns,
      path: `./${name}/${ns}`,
      extra: `  targetNamespace: ${ns}\n${extra}`,
    });
  const dir = makeRepo({
    [`${clusterPath}/infra.yaml`]: ks("infra"),
    [`${clusterPath}/apps.yaml`]: ks("apps", "  dependsOn:\n    - name: infra\n"),
    [`${clusterPath}/broken.yaml`]: ks("broken"),
    [`${clusterPath}/later.yaml`]: ks("later", "  dependsOn:\n    - name: broken\n"),
    [`infra/${ns}/charts.yaml`]: helmRepositoryYaml("charts", ns, charts.url),
    [`infra/${ns}/settings.yaml`]: configMap("settings", { a: "1" }),
    [`apps/${ns}/app.yaml`]: helmReleaseYaml({ name: "app", namespace: ns, version: "0.1.x" }),
    [`broken/${ns}/bad.yaml`]: configMap("bad", { "not a valid key!": "1" }),
    [`later/${ns}/later.yaml`]: configMap("later", { b: "2" }),
  });
  return { ns, clusterPath, dir };
}

async function startBotWith(reports?: { pendingStatuses: boolean }) {
  const operator = operatorConfigSchema.parse({
    clusters: [{ name: "dev", kubeconfig: inject("kubeconfigPath"), repositories: [`${OWNER}/${REPO}`] }],
    images: { enabled: false },
    ...(reports ? { reports } : {}),
  });
  const app = createGitOpsApp({ operator });
  return { app, probot: await createTestProbot(app.appFn) };
}

function expectedStatuses(ns: string) {
  return {
    "gitops/dev": {
      state: "failure",
      description: `2 of 5 failed: Kustomization/${ns}/broken, Kustomization/${ns}/later`,
    },
    // The HelmRepository is a source the bot resolves itself, not an object it applies.
    "gitops/dev/infra": { state: "success", description: "1 created" },
    "gitops/dev/apps": { state: "success", description: "no objects" },
    "gitops/dev/broken": { state: "failure", description: expect.stringContaining(`ConfigMap/${ns}/bad`) },
    "gitops/dev/later": {
      state: "error",
      description: `DependencyNotReady: dependency ${ns}/broken is not ready`,
    },
    "gitops/dev/helmrelease/app": { state: "success", description: "installed demo 0.1.0 (revision 1)" },
  };
}

describe("the statuses of a commit", () => {
  it("are one final status per cluster, Kustomization and HelmRelease, and nothing else", async () => {
    const { ns, clusterPath, dir } = await exampleRepo();
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyPushHead(github, sha);
    replyTarball(github, dir, sha);
    const created = github.reply("POST", `${base}/check-runs`, 201, { id: 31 });
    const checks = github.reply("PATCH", `${base}/check-runs/31`, 200, { id: 31 }, { times: 2 });
    // 4 + 1 per object: the check run (created, in progress, completed), the cluster's status, 5 objects.
    const statuses = github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 6 });

    const bot = await startBotWith();
    await receive(bot.probot, "push", pushExample(sha));
    await bot.app.queue.idle();
    github.done();

    expect(finalStatuses(statuses)).toEqual(expectedStatuses(ns));
    expect(statuses.requests.map((r) => (r.body as { state: string }).state)).not.toContain("pending");
    // The cluster's status is the first write after the run.
    expect((statuses.requests[0]?.body as { context?: string } | undefined)?.context).toBe("gitops/dev");
    expect(created.requests).toHaveLength(1);

    const report = checks.requests[1]?.body as { conclusion: string; output: { summary: string } };
    expect(report.conclusion).toBe("failure");
    const mermaid = report.output.summary.match(/```mermaid\n([\s\S]*?)\n```/)?.[1] ?? "";
    const label = (mark: string, subject: string) =>
      new RegExp(`\\["${mark} ${subject.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}"\\]`);
    expect(mermaid).toMatch(label("✓", `Kustomization/${ns}/infra`));
    expect(mermaid).toMatch(label("✓", `Kustomization/${ns}/apps`));
    expect(mermaid).toMatch(label("✓", `HelmRelease/${ns}/app`));
    expect(mermaid).toMatch(label("✗", `Kustomization/${ns}/broken`));
    expect(mermaid).toMatch(label("⏸", `Kustomization/${ns}/later`));
    // infra → apps → app, broken → later
    expect(mermaid.match(/ --> /g)).toHaveLength(3);
  });

  it("with pending statuses asked for, are the same set, each pending one overtaken by its final state", async () => {
    const { ns, clusterPath, dir } = await exampleRepo();
    const sha = randomSha();
    github = mockGitHub();
    github.installationToken(INSTALLATION_ID);
    replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
    replyPushHead(github, sha);
    replyTarball(github, dir, sha);
    github.reply("POST", `${base}/check-runs`, 201, { id: 32 });
    github.reply("PATCH", `${base}/check-runs/32`, 200, { id: 32 }, { times: 2 });
    // How many pending statuses are sent depends on timing (a pending one not sent before its result is
    // dropped), so the reply answers any number; the assertions below are on what was sent.
    const statuses = github.reply(
      "POST",
      /^\/repos\/Codertocat\/Hello-World\/statuses\/[0-9a-f]{40}$/,
      201,
      { id: 1 },
      { times: 20 },
    );

    const bot = await startBotWith({ pendingStatuses: true });
    await receive(bot.probot, "push", pushExample(sha));
    await bot.app.queue.idle();

    expect(finalStatuses(statuses)).toEqual(expectedStatuses(ns));
    const bodies = statuses.requests.map((r) => r.body as { context: string; state: string });
    const pending = bodies.filter((b) => b.state === "pending").map((b) => b.context);
    expect(pending).toContain("gitops/dev");
    // Every context that was ever pending has a final state after it, and no context is outside the set.
    for (const context of new Set(bodies.map((b) => b.context))) {
      expect(Object.keys(expectedStatuses(ns))).toContain(context);
      const last = bodies.filter((b) => b.context === context).at(-1);
      expect(last?.state).not.toBe("pending");
    }
    // Never more than one pending and one final status per context.
    for (const context of Object.keys(expectedStatuses(ns))) {
      expect(bodies.filter((b) => b.context === context).length).toBeLessThanOrEqual(2);
    }
    github.cleanup();
    github = undefined;
  });
});
