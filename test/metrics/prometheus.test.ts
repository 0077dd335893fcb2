// The bot's /metrics scraped by a real Prometheus while a scenario runs: a push reconciled by the engine
// against the real API server (one Kustomization ready, one failing, one suspended), a PR preview (dry run),
// a real GitRepository fetch from the harness git server, a real image scan of the harness registry, a push
// webhook through probot and the real jobs (GitHub simulated), and a queue backlog. Then every expression of
// every panel of the shipped dashboard, every alert rule and every panel of flux2-monitoring-example's
// "Flux Cluster Stats" dashboard is evaluated through Prometheus' HTTP API.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProbotOctokit } from "probot";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { setKubeRequestHook } from "../../src/cluster/kube-client.js";
import { gitRepositorySpecSchema } from "../../src/flux/sources.js";
import { instrumentApp, metricsHandler, routesListener } from "../../src/github/http-routes.js";
import { loadImageAutomation } from "../../src/images/load.js";
import { RegistryClient } from "../../src/images/registry/client.js";
import { localRepositoryFiles } from "../../src/images/repository-files.js";
import { scanImages } from "../../src/images/scan.js";
import { GitOpsMetrics, githubMetricsPlugin } from "../../src/metrics/index.js";
import { InMemoryQueue } from "../../src/queue/in-memory-queue.js";
import type { RunResult } from "../../src/reconcile/result.js";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { fetchGitRepository } from "../../src/source/git.js";
import { replyPushHead } from "../support/branch-head-nock.js";
import { createGitRepo } from "../support/git-server.js";
import {
  INSTALLATION_ID,
  OWNER,
  pushExample,
  REPO,
  randomSha,
  replyRepoConfig,
  replyTarball,
  repoConfigYaml,
  startBot,
} from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { createNamespace, testKubeConfig, testObjectApi, uniqueName } from "../support/kube.js";
import { receive } from "../support/probot.js";
import { promtoolCheckRules, type RunningPrometheus, startPrometheus } from "../support/prometheus.js";
import { pushImageTags } from "../support/registry.js";
import { configMap, fluxKustomization, makeRepo, writeTree } from "../support/repo-tree.js";

const ALERTS = join(import.meta.dirname, "../../deploy/monitoring/alerts.yaml");
const DASHBOARD = join(import.meta.dirname, "../../deploy/monitoring/dashboards/gitops-bot.json");

/** Grafana's variables as "All" selects them, and its interval macros, for evaluation outside Grafana. */
function grafanaExpr(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("$__range", "5m")
    .replaceAll("$cluster", ".*")
    .replaceAll("$operator_namespace", ".*")
    .replaceAll("$namespace", ".*");
}

/**
 * The panel expressions of flux2-monitoring-example's monitoring/configs/dashboards/cluster.json ("Flux
 * Cluster Stats"), written out from that dashboard (stat, bar gauge, table and time series panels), with its
 * two variable queries: label_values(gotk_reconcile_condition, namespace) and
 * label_values(gotk_resource_info, exported_namespace).
 */
const RECONCILERS = 'customresource_kind=~"Kustomization|HelmRelease"';
const SOURCES = 'customresource_kind=~"GitRepository|HelmRepository|Bucket|OCIRepository"';
const avgDuration = (kinds: string, by: string) =>
  `sum(rate(gotk_reconcile_duration_seconds_sum{namespace=~"$operator_namespace",exported_namespace=~"$namespace",kind=~"${kinds}"}[5m])) by (${by})\n/\n  sum(rate(gotk_reconcile_duration_seconds_count{namespace=~"$operator_namespace",exported_namespace=~"$namespace",kind=~"${kinds}"}[5m])) by (${by})`;
const FLUX_CLUSTER_PANELS: { title: string; expr: string }[] = [
  {
    title: "Cluster Reconcilers",
    expr: `count(gotk_resource_info{exported_namespace=~"$namespace", ${RECONCILERS}})`,
  },
  {
    title: "Failing Reconcilers",
    expr: `count(gotk_resource_info{exported_namespace=~"$namespace", ${RECONCILERS}, ready="False"})`,
  },
  {
    title: "Kubernetes Manifests Sources",
    expr: `count(gotk_resource_info{exported_namespace=~"$namespace", ${SOURCES}})`,
  },
  {
    title: "Failing Sources",
    expr: `count(gotk_resource_info{exported_namespace=~"$namespace", ${SOURCES}, ready="False"})`,
  },
  { title: "Reconciler ops avg. duration", expr: avgDuration("Kustomization|HelmRelease", "kind") },
  {
    title: "Source ops avg. duration",
    expr: avgDuration("GitRepository|HelmRepository|Bucket|OCIRepository", "kind"),
  },
  {
    title: "Cluster reconciliation readiness",
    expr: `gotk_resource_info{exported_namespace=~"$namespace", ${RECONCILERS}}`,
  },
  {
    title: "Source acquisition readiness",
    expr: `gotk_resource_info{exported_namespace=~"$namespace", ${SOURCES}}`,
  },
  { title: "Cluster reconciliation duration", expr: avgDuration("Kustomization|HelmRelease", "kind, name") },
  {
    title: "Source acquisition duration",
    expr: avgDuration("GitRepository|HelmRepository|Bucket|OCIRepository", "kind, name"),
  },
];

interface DashboardPanel {
  title: string;
  type: string;
  targets?: { expr: string }[];
}

interface RuleFile {
  groups: { name: string; rules: { alert: string; expr: string }[] }[];
}

let prometheus: RunningPrometheus | undefined;
let server: Server | undefined;
let github: GitHubMock | undefined;
let ns = "";
const metrics = new GitOpsMetrics();
const releaseBacklog: (() => void)[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

async function reconcileScenario(repo: string, scope: string, revision: string): Promise<RunResult> {
  const api = testObjectApi();
  const run = await reconcileTree(api, { ...defaultReconcileOptions(repo, "clusters/dev"), scope });
  metrics.recordRun(run, {
    cluster: "dev",
    repository: "acme/fleet",
    revision,
    sourceName: "flux-system",
  });
  return run;
}

/** A real fetch from the harness git server, timed and recorded as the GitRepository `name`. */
async function fetchSource(name: string, url: string): Promise<void> {
  const cache = await mkdtemp(join(tmpdir(), "gitops-bot-metrics-git-"));
  cleanups.push(() => rm(cache, { recursive: true, force: true }));
  const started = performance.now();
  const artifact = await fetchGitRepository(
    gitRepositorySpecSchema.parse({ url, interval: "1m", ref: { branch: "main" } }),
    {},
    cache,
    30_000,
  ).catch(() => undefined);
  metrics.recordSourceFetch({
    cluster: "dev",
    kind: "GitRepository",
    name,
    namespace: "flux-system",
    url,
    revision: artifact?.revision,
    seconds: (performance.now() - started) / 1000,
    ok: artifact !== undefined,
  });
}

async function imageScan(): Promise<void> {
  const host = inject("registryHost");
  const repository = uniqueName("metrics/podinfo");
  await pushImageTags(`http://${host}`, repository, ["5.0.0", "5.1.0", "6.0.0"]);
  const dir = makeRepo({
    "clusters/dev/images.yaml": `apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  image: ${host}/${repository}
  interval: 5m
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: podinfo
  policy:
    semver:
      range: 5.x
`,
  });
  const objects = await loadImageAutomation(localRepositoryFiles(dir), "clusters/dev");
  const started = performance.now();
  const scan = await scanImages(objects, { registry: new RegistryClient({}) });
  metrics.recordImageScanResult(scan, { seconds: (performance.now() - started) / 1000 });
  expect(scan.policies[0]?.tag).toBe("5.1.0");
  // The image-update PR itself is GitHub's (tested in test/github/images.test.ts); here its count.
  metrics.recordImagePullRequest("created");
}

async function pushThroughProbot(): Promise<void> {
  const api = testObjectApi();
  const pushNs = await createNamespace(api, "metrics-gh");
  const clusterPath = `clusters/${pushNs}`;
  const dir = makeRepo({
    [`${clusterPath}/apps.yaml`]: fluxKustomization({
      name: "apps",
      namespace: pushNs,
      path: `./apps/${pushNs}`,
      extra: `  targetNamespace: ${pushNs}\n`,
    }),
    [`apps/${pushNs}/a.yaml`]: configMap("a", { color: "blue" }),
  });
  const sha = randomSha();
  const base = `/repos/${OWNER}/${REPO}`;
  github = mockGitHub();
  github.installationToken(INSTALLATION_ID);
  replyRepoConfig(github, repoConfigYaml([{ name: "dev", path: clusterPath }]));
  replyPushHead(github, sha);
  replyTarball(github, dir, sha);
  // GitHub answers with the installation's rate limit; 120 of 5000 left is under the alert's 10 %.
  const checkRun = github.reply(
    "POST",
    `${base}/check-runs`,
    201,
    { id: 7 },
    {
      headers: { "x-ratelimit-remaining": "120", "x-ratelimit-limit": "5000" },
    },
  );
  // How many statuses and check-run updates the jobs write is theirs to decide (test/github/push.test.ts);
  // here they are answered, up to a bound, and the metrics of what was sent are checked.
  github.reply("PATCH", `${base}/check-runs/7`, 200, { id: 7 }, { times: 4 });
  github.reply("POST", `${base}/statuses/${sha}`, 201, { id: 1 }, { times: 8 });
  const Octokit = ProbotOctokit.defaults((options: object) => ({
    ...options,
    retry: { enabled: false },
    throttle: { enabled: false },
  })).plugin(githubMetricsPlugin(metrics));
  const bot = await startBot({ Octokit });
  instrumentApp(metrics, bot.probot, bot.app);
  const deliveryId = "8f4c9b52-metrics-push";
  await receive(bot.probot, "push", pushExample(sha), deliveryId);
  await bot.app.queue.idle();
  // GitHub redelivers the same delivery: nothing runs twice, and it counts as a duplicate.
  await receive(bot.probot, "push", pushExample(sha), deliveryId);
  await bot.app.queue.idle();
  expect(checkRun.requests).toHaveLength(1);
  expect(github.requests.filter((r) => r.operationId === undefined)).toEqual([]);
  github.cleanup();
}

function queueBacklog(): void {
  const queue = new InMemoryQueue<{ type: string; n: number }>(
    { run: () => new Promise<void>((resolve) => releaseBacklog.push(resolve)) },
    { concurrency: 1, maxWaitingPerGroup: 100, groupOf: () => "acme/fleet" },
  );
  queue.observe(metrics.queueObserver((job) => ({ type: job.type, cluster: "dev" })));
  for (let n = 0; n < 60; n++)
    void queue.enqueue({ key: `reconcile:${n}`, supersedes: false, payload: { type: "reconcile", n } });
}

beforeAll(async () => {
  const kc = testKubeConfig();
  const apiServer = kc.getCurrentCluster()?.server;
  if (apiServer) metrics.kubeClusters.set(apiServer, "dev");
  setKubeRequestHook((event) =>
    metrics.recordKubeRequest({ ...event, cluster: metrics.kubeClusterOf(event.server) }),
  );

  server = createServer((req, res) => void routesListener([metricsHandler(metrics)])(req, res));
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  prometheus = await startPrometheus({
    // As flux2-monitoring-example's PodMonitor scrapes Flux: the pod's namespace and name as target labels.
    targets: [{ address: `127.0.0.1:${port}`, labels: { namespace: "flux-system", pod: "gitops-bot-0" } }],
    ruleFiles: [ALERTS],
  });
  await prometheus.waitForScrapes(1);

  // The repository the pushes apply: one Kustomization ready, one failing (the API server refuses an object),
  // one suspended.
  const api = testObjectApi();
  ns = await createNamespace(api, "metrics");
  const repo = makeRepo({
    "clusters/dev/apps.yaml": fluxKustomization({
      name: "apps",
      namespace: ns,
      path: "./apps",
      extra: `  targetNamespace: ${ns}\n`,
    }),
    "clusters/dev/broken.yaml": fluxKustomization({
      name: "broken",
      namespace: ns,
      path: "./broken",
      extra: `  targetNamespace: ${ns}\n`,
    }),
    "clusters/dev/paused.yaml": fluxKustomization({
      name: "paused",
      namespace: ns,
      path: "./paused",
      extra: `  targetNamespace: ${ns}\n  suspend: true\n`,
    }),
    "apps/a.yaml": configMap("a", { color: "blue" }),
    "broken/bad.yaml": configMap("bad", { "not a valid key!": "1" }),
    "paused/p.yaml": configMap("p", { x: "1" }),
  });
  const scope = uniqueName("metrics");
  const gitName = uniqueName("metrics-source");
  await createGitRepo(join(inject("gitRoot"), gitName), { "README.md": "metrics\n" });
  const gitUrl = `${inject("gitServerUrl")}/${gitName}`;

  // Round one: a push, the source fetched, a PR preview that would change a ConfigMap, an image scan.
  await fetchSource("flux-system", gitUrl);
  // A GitRepository whose repository does not exist: a failing source.
  await fetchSource("missing", `${inject("gitServerUrl")}/${uniqueName("no-such-repository")}`);
  const first = await reconcileScenario(repo, scope, `main@sha1:${randomSha()}`);
  expect(first.kustomizations.map((k) => [k.name, k.status]).sort()).toEqual([
    ["apps", "Ready"],
    ["broken", "Failed"],
    ["paused", "Suspended"],
  ]);
  // The pull request fixes the failing object and changes another: its preview has changes and no failure.
  writeTree(repo, {
    "apps/a.yaml": configMap("a", { color: "green" }),
    "broken/bad.yaml": configMap("bad", { valid: "1" }),
  });
  const preview = await reconcileTree(testObjectApi(), {
    ...defaultReconcileOptions(repo, "clusters/dev"),
    scope,
    dryRun: true,
  });
  metrics.recordRun(preview, { cluster: "dev", repository: "acme/fleet" });
  writeTree(repo, {
    "apps/a.yaml": configMap("a", { color: "blue" }),
    "broken/bad.yaml": configMap("bad", { "not a valid key!": "1" }),
  });
  await imageScan();
  // Notifications and the build cache are counted by their own layers; these are the calls they make.
  metrics.recordNotification("slack", "sent", "dev");
  metrics.recordBuildCache("miss");
  await prometheus.waitForScrapes(2);

  // Round two, after Prometheus has seen round one: rates and quantiles need two samples that differ.
  await fetchSource("flux-system", gitUrl);
  await fetchSource("missing", `${inject("gitServerUrl")}/${uniqueName("no-such-repository")}`);
  await reconcileScenario(repo, scope, `main@sha1:${randomSha()}`);
  await imageScan();
  metrics.recordBuildCache("memory");
  metrics.recordNotification("slack", "sent", "dev");
  await pushThroughProbot();
  // A cluster whose only repository reconciled once and is expected every second: overdue at once.
  metrics.recordRun(
    { clusterPath: "clusters/staging", dryRun: false, kustomizations: [], errors: [], durationMs: 5 },
    { cluster: "staging", repository: "acme/stale", intervalSeconds: 1 },
  );
  queueBacklog();
  await new Promise((r) => setTimeout(r, 2_500));
  await prometheus.waitForScrapes(2);
}, 240_000);

afterAll(async () => {
  for (const release of releaseBacklog.splice(0)) release();
  setKubeRequestHook(undefined);
  github?.cleanup();
  await prometheus?.stop();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await Promise.all(cleanups.map((c) => c()));
});

const value = (sample: { value: [number, string] } | undefined) => Number(sample?.value[1]);

describe("metrics scraped by a real Prometheus", () => {
  it("answers every panel of flux2-monitoring-example's Flux Cluster Stats, with the scenario's values", async () => {
    const p = prometheus!;
    for (const panel of FLUX_CLUSTER_PANELS) {
      const result = await p.query(grafanaExpr(panel.expr));
      expect(result.length, `${panel.title}: ${panel.expr}`).toBeGreaterThan(0);
    }
    const count = async (title: string) =>
      value((await p.query(grafanaExpr(FLUX_CLUSTER_PANELS.find((q) => q.title === title)!.expr)))[0]);
    // apps, broken, paused (the probot push is not recorded by its job yet) — and one of them failing.
    expect(await count("Cluster Reconcilers")).toBe(3);
    expect(await count("Failing Reconcilers")).toBe(1);
    expect(await count("Kubernetes Manifests Sources")).toBe(2);
    expect(await count("Failing Sources")).toBe(1);

    const readiness = await p.query(grafanaExpr(FLUX_CLUSTER_PANELS[6]!.expr));
    const byName = Object.fromEntries(readiness.map((s) => [s.metric.name, s.metric]));
    expect(byName.broken).toMatchObject({
      ready: "False",
      suspended: "false",
      exported_namespace: ns,
      namespace: "flux-system",
      pod: "gitops-bot-0",
      customresource_kind: "Kustomization",
      customresource_group: "kustomize.toolkit.fluxcd.io",
      customresource_version: "v1",
      source_name: "flux-system",
      cluster: "dev",
    });
    expect(byName.apps).toMatchObject({ ready: "True", suspended: "false" });
    expect(byName.apps?.revision).toMatch(/^main@sha1:[0-9a-f]{40}$/);
    expect(byName.paused).toMatchObject({ suspended: "true", ready: "Unknown" });
    const sources = await p.query(grafanaExpr(FLUX_CLUSTER_PANELS[7]!.expr));
    expect(sources[0]?.metric).toMatchObject({
      customresource_kind: "GitRepository",
      ready: "True",
      name: "flux-system",
    });
    expect(sources[0]?.metric.url).toContain(inject("gitServerUrl"));

    // Average durations are real: the engine's and the git fetch's, not zero.
    const durations = await p.query(grafanaExpr(FLUX_CLUSTER_PANELS[8]!.expr));
    expect(durations.map((s) => s.metric.name).sort()).toEqual(["apps", "broken"]);
    for (const s of durations) expect(value(s)).toBeGreaterThan(0);

    // The dashboard's variables.
    expect(await p.labelValues("namespace", "gotk_reconcile_condition")).toEqual(["flux-system"]);
    expect(await p.labelValues("exported_namespace", "gotk_resource_info")).toContain(ns);
  });

  it("answers every panel of the shipped gitops-bot dashboard", async () => {
    const p = prometheus!;
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { panels: DashboardPanel[] };
    const exprs = dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).map((t) => ({ panel: panel.title, expr: t.expr })),
    );
    expect(exprs.length).toBeGreaterThan(20);
    for (const { panel, expr } of exprs) {
      const result = await p.query(grafanaExpr(expr));
      expect(result.length, `${panel}: ${expr}`).toBeGreaterThan(0);
    }
    const one = async (expr: string) => value((await p.query(expr))[0]);
    expect(
      await one(
        'count(gotk_resource_info{cluster=~".*", customresource_kind=~"Kustomization|HelmRelease", ready="False", suspended="false"}) or vector(0)',
      ),
    ).toBe(1);
    expect(await one('sum(gitops_bot_previews_total{cluster="dev", outcome="changes"})')).toBe(1);
    expect(await one('sum(gitops_bot_webhook_deliveries_total{event="push", outcome="received"})')).toBe(2);
    expect(await one('sum(gitops_bot_webhook_deliveries_total{event="push", outcome="duplicate"})')).toBe(1);
    expect(await one('min(gitops_bot_github_rate_limit_remaining{installation="2311213"})')).toBe(120);
    expect(await one('sum(gitops_bot_github_requests_total{route="POST check-runs", status="201"})')).toBe(1);
    expect(await one('sum(gitops_bot_image_tags{name="podinfo", namespace="flux-system"})')).toBe(3);
    expect(await one('sum(gitops_bot_image_scans_total{outcome="ok"})')).toBe(2);
    expect(await one('sum(workqueue_depth{name="reconcile"})')).toBeGreaterThanOrEqual(59);
    // The probot push ran a push and a reconcile job through the real queue.
    expect(await one('sum(gitops_bot_queue_jobs_total{type="push", outcome="succeeded"})')).toBe(1);
    expect(await one('sum(workqueue_adds_total{name="reconcile"})')).toBeGreaterThanOrEqual(61);
    // Kubernetes requests were made by the engine and the job, on the cluster named "dev".
    expect(await one('sum(gitops_bot_kube_requests_total{cluster="dev", verb="patch"})')).toBeGreaterThan(0);
    expect(
      await one('sum(gitops_bot_applied_objects_total{cluster="dev", action="failed"})'),
    ).toBeGreaterThan(0);
    expect(
      await one('sum(controller_runtime_reconcile_total{controller="kustomization", result="error"})'),
    ).toBe(2);
    expect(
      await one('sum(controller_runtime_reconcile_total{controller="kustomization", result="success"})'),
    ).toBe(2);
  });

  it("fires every alert rule on the scenario that calls for it", async () => {
    const p = prometheus!;
    const rules = parseYaml(readFileSync(ALERTS, "utf8")) as RuleFile;
    const alerts = rules.groups.flatMap((g) => g.rules);
    expect(alerts.map((r) => r.alert).sort()).toEqual([
      "GitOpsGitHubRateLimitLow",
      "GitOpsNothingReconciled",
      "GitOpsQueueBacklog",
      "GitOpsReconcileFailing",
    ]);
    const firing: Record<string, Record<string, string>[]> = {};
    for (const rule of alerts) {
      const result = await p.query(rule.expr);
      expect(result.length, `${rule.alert}: ${rule.expr}`).toBeGreaterThan(0);
      firing[rule.alert] = result.map((s) => s.metric);
    }
    expect(firing.GitOpsReconcileFailing).toEqual([
      { cluster: "dev", customresource_kind: "Kustomization", exported_namespace: ns, name: "broken" },
    ]);
    expect(firing.GitOpsNothingReconciled).toEqual([{ cluster: "staging", repository: "acme/stale" }]);
    expect(firing.GitOpsGitHubRateLimitLow).toEqual([{ installation: String(INSTALLATION_ID) }]);
    expect(firing.GitOpsQueueBacklog).toEqual([{}]);
  });

  it("ships alert rules that promtool accepts", async () => {
    expect(await promtoolCheckRules(ALERTS)).toContain("SUCCESS: 4 rules found");
  });
});
