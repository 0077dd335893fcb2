// Metrics benchmarks (issue 12).
//   1. A /metrics scrape with 1,000 Kustomizations across 10 clusters recorded (target: under 50 ms), beside a
//      registry holding only prom-client's process metrics, both served over HTTP as Prometheus scrapes them.
//   2. What metrics cost a 1,000-object no-op reconcile against the real API server (target: under 2 %): the
//      same reconcile with the Kubernetes request hook and recordRun on and off, alternating, and the time
//      spent inside the hook and recordRun themselves.
// Runs from `npm run bench` (bench/run.ts imports run()) or alone: node dist-bench/bench/metrics.js
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadKubeConfig, makeObjectApi, setKubeRequestHook } from "../src/cluster/kube-client.js";
import { metricsHandler, routesListener } from "../src/github/http-routes.js";
import { GitOpsMetrics } from "../src/metrics/index.js";
import type { KustomizationResult, RunResult } from "../src/reconcile/result.js";
import { defaultReconcileOptions, reconcileTree } from "../src/reconcile/run.js";
import { benchCluster, stopBenchCluster } from "./support/cluster.js";
import { BENCH_CLUSTER_PATH, writeBenchRepo } from "./support/repo.js";
import { ms, percentile, printTable } from "./support/table.js";

const CLUSTERS = 10;
const KUSTOMIZATIONS = 1_000;
const SCRAPES = 30;
const OBJECTS = 1_000;
const NOOP_ROUNDS = 12;

function syntheticRun(cluster: number, count: number, failingEvery: number): RunResult {
  const kustomizations: KustomizationResult[] = Array.from({ length: count }, (_, i) => ({
    name: `app-${i}`,
    namespace: `team-${i % 20}`,
    path: `./apps/app-${i}`,
    file: `clusters/c${cluster}/app-${i}.yaml`,
    status: i % failingEvery === 0 ? "Failed" : i % 97 === 0 ? "Suspended" : "Ready",
    message: "",
    changes: Array.from({ length: 5 }, (_, j) => ({
      id: `team-${i % 20}_obj-${i}-${j}__ConfigMap`,
      subject: `ConfigMap/team-${i % 20}/obj-${i}-${j}`,
      apiVersion: "v1",
      action: j === 0 ? "configured" : "unchanged",
    })),
    errors: i % failingEvery === 0 ? [`ConfigMap/team-${i % 20}/obj-${i}-0: invalid`] : [],
    unhealthy: [],
    notApplied: [],
    durationMs: 200 + (i % 50) * 37,
  }));
  return { clusterPath: `clusters/c${cluster}`, dryRun: false, kustomizations, errors: [], durationMs: 9000 };
}

async function scrapeTimes(
  metrics: GitOpsMetrics,
  before: () => void = () => {},
): Promise<{ median: number; p95: number; bytes: number }> {
  const server = createServer((req, res) => void routesListener([metricsHandler(metrics)])(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  try {
    const samples: number[] = [];
    let bytes = 0;
    for (let i = 0; i < SCRAPES + 3; i++) {
      before();
      const started = performance.now();
      const body = await (await fetch(url)).text();
      if (i >= 3) samples.push(performance.now() - started);
      bytes = body.length;
    }
    return { median: percentile(samples, 50), p95: percentile(samples, 95), bytes };
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

async function scrapeBenchmark(): Promise<void> {
  const metrics = new GitOpsMetrics();
  const perCluster = KUSTOMIZATIONS / CLUSTERS;
  // Two runs per cluster: the second replaces every object's series (new revision), as a real push does.
  for (const revision of ["main@sha1:aaaa", "main@sha1:bbbb"]) {
    for (let c = 0; c < CLUSTERS; c++) {
      metrics.recordRun(syntheticRun(c, perCluster, 25), {
        cluster: `cluster-${c}`,
        repository: "acme/fleet",
        revision,
      });
    }
  }
  const baseline = await scrapeTimes(new GitOpsMetrics());
  const ours = await scrapeTimes(metrics);
  // The worst case: one cluster reconciled (100 Kustomizations recorded) before every scrape.
  let round = 0;
  const changed = await scrapeTimes(metrics, () => {
    const c = round++ % CLUSTERS;
    metrics.recordRun(syntheticRun(c, perCluster, 25), {
      cluster: `cluster-${c}`,
      repository: "acme/fleet",
      revision: `main@sha1:${round.toString(16).padStart(4, "0")}`,
    });
  });
  // Every cluster reconciled before every scrape: nothing kept, all 1,000 objects rendered.
  const everything = await scrapeTimes(metrics, () => {
    round++;
    for (let c = 0; c < CLUSTERS; c++) {
      metrics.recordRun(syntheticRun(c, perCluster, 25), {
        cluster: `cluster-${c}`,
        repository: "acme/fleet",
        revision: `main@sha1:${round.toString(16).padStart(4, "0")}`,
      });
    }
  });
  const kib = (n: number) => `${Math.round(n / 1024)} KiB`;
  printTable(
    `/metrics scrape over HTTP (${SCRAPES} scrapes)`,
    ["registry", "median", "p95", "body", "< 50 ms"],
    [
      ["process metrics only (baseline)", ms(baseline.median), ms(baseline.p95), kib(baseline.bytes), ""],
      [
        `${KUSTOMIZATIONS.toLocaleString("en")} Kustomizations across ${CLUSTERS} clusters, unchanged`,
        `${ours.median.toFixed(1)} ms`,
        `${ours.p95.toFixed(1)} ms`,
        kib(ours.bytes),
        ours.p95 < 50 ? "yes" : "NO",
      ],
      [
        "the same, one cluster reconciled before each scrape",
        `${changed.median.toFixed(1)} ms`,
        `${changed.p95.toFixed(1)} ms`,
        kib(changed.bytes),
        changed.p95 < 50 ? "yes" : "NO",
      ],
      [
        "the same, every cluster reconciled before each scrape",
        `${everything.median.toFixed(1)} ms`,
        `${everything.p95.toFixed(1)} ms`,
        kib(everything.bytes),
        everything.p95 < 50 ? "yes" : "NO",
      ],
    ],
  );
}

async function noopBenchmark(): Promise<void> {
  const plane = await benchCluster();
  const work = mkdtempSync(join(tmpdir(), "gitops-bot-bench-metrics-"));
  try {
    const ns = `bench-metrics-${Date.now().toString(36)}`;
    writeBenchRepo(work, "bench-metrics", [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
      ...Array.from({ length: OBJECTS }, (_, i) => ({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `config-${i}`, namespace: ns },
        data: { index: String(i), payload: `value-${i}-`.repeat(20) },
      })),
    ]);
    const kc = loadKubeConfig({ kubeconfig: plane.kubeconfigPath });
    const api = makeObjectApi(kc);
    const metrics = new GitOpsMetrics();
    const server = kc.getCurrentCluster()?.server ?? "";
    metrics.kubeClusters.set(server, "bench");
    let insideMs = 0;
    let requests = 0;
    const reconcile = async (withMetrics: boolean): Promise<number> => {
      setKubeRequestHook(
        withMetrics
          ? (event) => {
              const started = performance.now();
              metrics.recordKubeRequest({ ...event, cluster: metrics.kubeClusterOf(event.server) });
              insideMs += performance.now() - started;
              requests++;
            }
          : undefined,
      );
      const started = performance.now();
      const run = await reconcileTree(api, {
        ...defaultReconcileOptions(work, BENCH_CLUSTER_PATH),
        scope: "bench:metrics",
        skipHealth: true,
      });
      if (withMetrics) {
        const recordStarted = performance.now();
        metrics.recordRun(run, { cluster: "bench", repository: "acme/bench" });
        insideMs += performance.now() - recordStarted;
      }
      const failures = [...run.errors, ...run.kustomizations.flatMap((k) => k.errors)];
      if (failures.length > 0) throw new Error(`engine run failed: ${failures.join("; ")}`);
      return performance.now() - started;
    };
    await reconcile(false); // cold: creates the objects
    await reconcile(true); // warms the metrics path and the build cache
    const off: number[] = [];
    const on: number[] = [];
    insideMs = 0;
    requests = 0;
    for (let round = 0; round < NOOP_ROUNDS; round++) {
      // Alternating, so drift in the API server's speed affects both sides alike.
      off.push(await reconcile(false));
      on.push(await reconcile(true));
    }
    setKubeRequestHook(undefined);
    const offMedian = percentile(off, 50);
    const onMedian = percentile(on, 50);
    const inside = insideMs / NOOP_ROUNDS;
    printTable(
      `Metrics on a ${OBJECTS.toLocaleString("en")}-object no-op reconcile (${NOOP_ROUNDS} rounds each, alternating; target < 2 %)`,
      ["", "median", "vs without", "< 2 %"],
      [
        ["without metrics (baseline)", ms(offMedian), "", ""],
        [
          "with metrics (hook + recordRun)",
          ms(onMedian),
          `${(((onMedian - offMedian) / offMedian) * 100).toFixed(1)} %`,
          "",
        ],
        [
          `time inside the hook (${Math.round(requests / NOOP_ROUNDS)} requests) and recordRun`,
          `${inside.toFixed(2)} ms`,
          `${((inside / offMedian) * 100).toFixed(2)} %`,
          inside / offMedian < 0.02 ? "yes" : "NO",
        ],
      ],
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  await scrapeBenchmark();
  await noopBenchmark();
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  run()
    .finally(() => stopBenchCluster())
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
