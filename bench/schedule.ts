// Issue 11's schedule benchmark: REPOS repositories × KUSTOMIZATIONS Kustomizations (one ConfigMap each) on a 1 m
// interval, run for MINUTES minutes of simulated time (a manual clock drives the bot's real timers, queue,
// scheduled jobs and engine against the bench API server; GitHub is nock). Prints the bot's CPU seconds per
// hour of schedule (this process: the engine and reporters; kustomize builds are cached after the first run)
// and GitHub API calls per hour, with conditional branch-head reads answered 304 counted apart (GitHub does not
// count them against the rate limit). Goal: ≤ 1 counted call per repository per interval. The baseline, measured
// in the same run: the first round, every repository reconciled once in full (head, config and tarball read,
// every Kustomization built, dry-run and applied), as after a push — what each interval would cost a poller
// without the conditional read, the kept tree and the engine's fast path.
// Smaller runs: BENCH_SCHEDULE_REPOS, BENCH_SCHEDULE_KUSTOMIZATIONS, BENCH_SCHEDULE_MINUTES.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { stringify } from "yaml";
import { type BuildCacheResult, setBuildCacheObserver } from "../src/build/build-cache.js";
import { loadKubeConfig, makeObjectApi } from "../src/cluster/kube-client.js";
import { operatorConfigSchema } from "../src/config/operator-config.js";
import { reconcileQueueKey } from "../src/github/schedule.js";
import { createGitOpsApp } from "../src/index.js";
import { ManualClock } from "../src/schedule/clock.js";
import { createTestProbot } from "../test/support/probot.js";
import { benchCluster } from "./support/cluster.js";
import { printTable } from "./support/table.js";

const API = "https://api.github.com";
const OWNER = "bench";
const INSTALLATION = 7;
const REPOS = Number(process.env.BENCH_SCHEDULE_REPOS ?? 50);
const KUSTOMIZATIONS = Number(process.env.BENCH_SCHEDULE_KUSTOMIZATIONS ?? 20);
const MINUTES = Number(process.env.BENCH_SCHEDULE_MINUTES ?? 10);
const INTERVAL_MS = 60_000;

function writeRepo(dir: string, ns: string): void {
  mkdirSync(join(dir, "clusters/bench"), { recursive: true });
  for (let k = 0; k < KUSTOMIZATIONS; k++) {
    mkdirSync(join(dir, `apps/k${k}`), { recursive: true });
    writeFileSync(
      join(dir, `apps/k${k}/config.yaml`),
      stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `config-${k}` },
        data: { k: String(k) },
      }),
    );
    writeFileSync(
      join(dir, `clusters/bench/k${k}.yaml`),
      stringify({
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: { name: `k${k}`, namespace: ns },
        spec: {
          interval: "1m",
          path: `./apps/k${k}`,
          prune: true,
          targetNamespace: ns,
          sourceRef: { kind: "GitRepository", name: "flux-system" },
        },
      }),
    );
  }
}

function tarball(dir: string, repo: string, sha: string): Buffer {
  return execFileSync(
    "tar",
    ["-czf", "-", "-C", dir, `--transform=s,^\\.,${OWNER}-${repo}-${sha.slice(0, 7)},`, "."],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
}

interface Counts {
  counted: Record<string, number>;
  notModified: number;
}

/** GitHub for every repository: heads with ETags (304 on If-None-Match), tarballs, and report writes. */
function mockGitHub(repos: { name: string; dir: string; sha: string }[], counts: Counts): void {
  const count = (what: string) => {
    counts.counted[what] = (counts.counted[what] ?? 0) + 1;
  };
  const byName = new Map(repos.map((r) => [r.name, r]));
  nock(API)
    .persist()
    .post(/\/app\/installations\/\d+\/access_tokens/)
    .reply(() => {
      count("installation token");
      return [201, { token: "ghs_bench", expires_at: new Date(Date.now() + 3600e3).toISOString() }];
    });
  nock(API)
    .persist()
    .get(/\/repos\/bench\/[^/]+\/git\/ref\//)
    .reply(function (uri) {
      const repo = byName.get(uri.split("/")[3] ?? "");
      const etag = `"${repo?.sha}"`;
      if (this.req.headers["if-none-match"] === etag) {
        counts.notModified++;
        return [304, ""];
      }
      count("branch head (full)");
      return [200, { ref: "refs/heads/main", object: { sha: repo?.sha, type: "commit" } }, { etag }];
    });
  const config = "clusters:\n  - name: bench\n    path: clusters/bench\n    branch: main\n";
  nock(API)
    .persist()
    .get(/\/repos\/bench\/[^/]+\/contents\//)
    .reply(() => {
      count("repository config");
      return [200, { type: "file", encoding: "base64", content: Buffer.from(config).toString("base64") }];
    });
  nock(API)
    .persist()
    .get(/\/repos\/bench\/[^/]+\/tarball\//)
    .reply((uri) => {
      count("tarball");
      const repo = byName.get(uri.split("/")[3] ?? "");
      return [
        200,
        tarball(repo?.dir ?? "", repo?.name ?? "", repo?.sha ?? ""),
        { "content-type": "application/x-gzip" },
      ];
    });
  nock(API)
    .persist()
    .post(/\/repos\/bench\/[^/]+\/(statuses|check-runs)/)
    .reply((uri) => {
      count(uri.includes("statuses") ? "status" : "check run");
      return [201, { id: 1 }];
    });
  nock(API)
    .persist()
    .patch(/\/repos\/bench\/[^/]+\/check-runs\/\d+/)
    .reply(() => {
      count("check run");
      return [200, { id: 1 }];
    });
}

export async function run(): Promise<void> {
  const plane = await benchCluster();
  const work = mkdtempSync(join(tmpdir(), "gitops-bot-bench-schedule-"));
  // A build cache of this run's own: other processes on the machine cannot evict its entries (nor it theirs).
  const cacheBefore = process.env.GITOPS_BOT_BUILD_CACHE;
  if (cacheBefore !== "off") process.env.GITOPS_BOT_BUILD_CACHE = join(work, "build-cache");
  const stamp = Date.now().toString(36);
  const repos = Array.from({ length: REPOS }, (_, i) => {
    const name = `fleet-${i}`;
    const dir = join(work, name);
    writeRepo(dir, `sched-${stamp}-${i}`);
    return {
      name,
      dir,
      sha: `${stamp}${i}`
        .padEnd(40, "0")
        .slice(0, 40)
        .replace(/[^0-9a-f]/g, "a"),
    };
  });
  const api = makeObjectApi(loadKubeConfig({ kubeconfig: plane.kubeconfigPath }));
  for (let i = 0; i < REPOS; i++)
    await api.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: `sched-${stamp}-${i}` } });
  const counts: Counts = { counted: {}, notModified: 0 };
  mockGitHub(repos, counts);
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  const clock = new ManualClock();
  const app = createGitOpsApp({
    operator: operatorConfigSchema.parse({
      clusters: [{ name: "bench", kubeconfig: plane.kubeconfigPath, repositories: [`${OWNER}/*`] }],
      images: { enabled: false },
      concurrency: 4,
    }),
    engine: { skipHealth: true },
    schedule: { clock, random: Math.random },
  });
  const probot = await createTestProbot(app.appFn);
  void probot;
  try {
    // Each repository's first run (as after a push): creates its objects and sets its timers. The baseline.
    const firstCpu = process.cpuUsage();
    const firstWall = performance.now();
    for (const r of repos) {
      const cluster = { name: "bench", path: "clusters/bench", branch: "main" };
      await app.queue.enqueue({
        key: reconcileQueueKey({ owner: OWNER, repo: r.name }, "bench"),
        supersedes: false,
        payload: {
          type: "scheduled",
          deliveryId: `bench:${r.name}`,
          installationId: INSTALLATION,
          owner: OWNER,
          repo: r.name,
          defaultBranch: "main",
          branch: "main",
          cluster,
          due: [],
        },
      });
    }
    await app.queue.idle();
    const first = process.cpuUsage(firstCpu);
    const firstCpuS = (first.user + first.system) / 1e6;
    const firstWallS = (performance.now() - firstWall) / 1000;
    const firstCounted = Object.values(counts.counted).reduce((a, b) => a + b, 0);
    const timers = (await app.schedule()?.list())?.length ?? 0;
    counts.counted = {};
    counts.notModified = 0;
    console.error(
      `schedule: first round of ${REPOS} repositories in ${firstWallS.toFixed(0)} s; simulating ${MINUTES} min`,
    );

    // Whether the scheduled runs' kustomize builds come from the build cache (src/build/build-cache.ts).
    const builds: Record<BuildCacheResult, number> = { memory: 0, disk: 0, miss: 0 };
    setBuildCacheObserver((result) => void builds[result]++);
    const cpuStart = process.cpuUsage();
    const wallStart = performance.now();
    for (let minute = 0; minute < MINUTES; minute++) {
      // The clock moves in steps of a second, so firings spread by the jitter run as they come.
      for (let s = 0; s < INTERVAL_MS / 1000; s++) {
        await clock.advance(1000);
        if (app.queue.size.running + app.queue.size.waiting > 0) await app.queue.idle();
      }
      console.error(
        `schedule: minute ${minute + 1} of ${MINUTES} (${((performance.now() - wallStart) / 1000).toFixed(0)} s)`,
      );
    }
    await app.queue.idle();
    const cpu = process.cpuUsage(cpuStart);
    setBuildCacheObserver(undefined);
    const wallS = (performance.now() - wallStart) / 1000;
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const perHour = 60 / MINUTES;
    const counted = Object.values(counts.counted).reduce((a, b) => a + b, 0);
    const intervals = REPOS * MINUTES;
    const intervalCpuS = cpuS / MINUTES;
    printTable(
      `schedule: ${REPOS} repositories × ${KUSTOMIZATIONS} Kustomizations, 1 m interval, ${MINUTES} min simulated (${timers} timers)`,
      ["measure", "value", "per hour of schedule"],
      [
        ["bot CPU (this process)", `${cpuS.toFixed(1)} s`, `${(cpuS * perHour).toFixed(1)} s`],
        ["  per interval (every repository once)", `${intervalCpuS.toFixed(2)} s`, "—"],
        ["wall time to simulate", `${wallS.toFixed(1)} s`, "—"],
        ["GitHub API calls counted", counted, Math.round(counted * perHour)],
        ...Object.entries(counts.counted).map(([what, n]) => [
          `  of which ${what}`,
          n,
          Math.round(n * perHour),
        ]),
        [
          "branch-head 304s (not counted by GitHub)",
          counts.notModified,
          Math.round(counts.notModified * perHour),
        ],
        ["counted calls per repository per interval (goal ≤ 1)", (counted / intervals).toFixed(2), "—"],
        [
          "kustomize builds: from memory / from disk / run (cache missed)",
          `${builds.memory} / ${builds.disk} / ${builds.miss}`,
          "—",
        ],
        [
          "baseline: first round, every repository in full (CPU)",
          `${firstCpuS.toFixed(1)} s`,
          `${(firstCpuS * 60).toFixed(0)} s if every interval did it`,
        ],
        ["baseline: first round (wall)", `${firstWallS.toFixed(1)} s`, "—"],
        [
          "baseline: first round, GitHub calls counted",
          firstCounted,
          `${firstCounted * 60} if every interval did it`,
        ],
        ["scheduled interval / first round (CPU)", `${(intervalCpuS / firstCpuS).toFixed(3)}×`, "—"],
      ],
    );
  } finally {
    if (cacheBefore === undefined) delete process.env.GITOPS_BOT_BUILD_CACHE;
    else process.env.GITOPS_BOT_BUILD_CACHE = cacheBefore;
    await app.close();
    nock.cleanAll();
    rmSync(work, { recursive: true, force: true });
    for (let i = 0; i < REPOS; i++)
      await api
        .delete({ apiVersion: "v1", kind: "Namespace", metadata: { name: `sched-${stamp}-${i}` } })
        .catch(() => undefined);
  }
}
