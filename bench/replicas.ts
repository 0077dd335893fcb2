// Several replicas on one Redis: 1,000 signed pushes across 50 repositories, delivered round-robin to 1 and
// to 3 bot server processes (REDIS_URL set, the compiled server as `npm start` runs it) against the real API
// server and a GitHub simulated on the loopback. Measured: throughput (pushes per second, first delivery to the
// last final status) and push → final commit status (p50, p99). The in-process queue (one replica, no Redis)
// is the baseline of the same run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadKubeConfig, makeObjectApi } from "../src/cluster/kube-client.js";
import {
  commitTree,
  deliver,
  INSTALLATION_ID,
  OWNER,
  operatorConfig,
  pushDelivery,
  randomSha,
  startReplicas,
} from "../test/replicas/bot-cluster.js";
import { startFakeGitHub } from "../test/replicas/fake-github.js";
import { testAppKey } from "../test/security/server-process.js";
import { startRedis } from "../test/support/redis.js";
import { benchCluster } from "./support/cluster.js";
import { ms, percentile, printTable } from "./support/table.js";

const PUSHES = Number(process.env.BENCH_REPLICA_PUSHES ?? 1000);
const REPOSITORIES = 50;
const SECRET = "bench-replicas-Zq4nW8pL2xR6";

interface Figures {
  setup: string;
  seconds: number;
  throughput: number;
  p50: number;
  p99: number;
  applied: number;
  /** Repositories whose last commit was not applied, with its statuses. */
  notApplied: string[];
}

async function measure(setup: string, replicaCount: number, redisUrl: string | undefined): Promise<Figures> {
  const plane = await benchCluster();
  const api = makeObjectApi(loadKubeConfig({ kubeconfig: plane.kubeconfigPath }));
  const github = await startFakeGitHub();
  const trees = mkdtempSync(join(tmpdir(), "gitops-bot-bench-replicas-"));
  const repos = Array.from({ length: REPOSITORIES }, (_, i) => `bench-${i}`);
  const namespaces = new Map<string, string>();
  const run = Math.random().toString(36).slice(2, 7);
  for (const repo of repos) {
    const ns = `rep-${run}-${repo}`;
    await api.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    namespaces.set(repo, ns);
    github.repositories.set(`${OWNER}/${repo}`, {
      config: `clusters:\n  - name: dev\n    path: clusters/${ns}\n`,
      head: "0".repeat(40),
      trees: new Map(),
    });
  }
  const set = await startReplicas({
    entry: new URL("../src/server.js", import.meta.url).pathname,
    count: replicaCount,
    ...(redisUrl ? { redisUrl } : {}),
    github,
    secret: SECRET,
    privateKey: testAppKey(),
    operatorConfig: operatorConfig(plane.kubeconfigPath, repos),
  });
  try {
    const sentAt = new Map<string, number>();
    const perRepo = PUSHES / REPOSITORIES;
    const started = performance.now();
    const startedWall = Date.now();
    await Promise.all(
      repos.map(async (repo, r) => {
        const state = github.repositories.get(`${OWNER}/${repo}`);
        if (!state) return;
        for (let i = 0; i < perRepo; i++) {
          const sha = randomSha();
          state.trees.set(sha, commitTree(trees, namespaces.get(repo) ?? "", sha));
          state.head = sha;
          sentAt.set(sha, Date.now());
          await deliver(set.replicas, r + i, pushDelivery(SECRET, repo, sha, INSTALLATION_ID + r));
        }
      }),
    );
    const finalAt = new Map<string, number>();
    const deadline = Date.now() + 600_000;
    while (finalAt.size < sentAt.size) {
      for (const s of github.statuses) {
        if (s.context === "gitops/dev" && s.state !== "pending" && !finalAt.has(s.sha))
          finalAt.set(s.sha, s.at);
      }
      if (Date.now() > deadline)
        throw new Error(`${sentAt.size - finalAt.size} pushes without a final status`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    const latencies = [...sentAt].map(([sha, at]) => (finalAt.get(sha) ?? Date.now()) - at);
    const applied = github.statuses.filter(
      (s) => s.context === "gitops/dev" && s.state === "success" && !/superseded/.test(s.description),
    ).length;
    void startedWall;
    // Each repository's last commit must be applied; say what happened to one that was not.
    const notApplied: string[] = [];
    for (const repo of repos) {
      const head = github.repositories.get(`${OWNER}/${repo}`)?.head ?? "";
      const own = github.statuses.filter((s) => s.sha === head && s.context === "gitops/dev");
      if (!own.some((s) => s.state === "success" && !/superseded/.test(s.description)))
        notApplied.push(
          `${repo}@${head.slice(0, 7)}: ${own.map((s) => `${s.state} ${s.description}`).join(" | ")}`,
        );
    }
    return {
      notApplied,
      setup,
      seconds,
      throughput: sentAt.size / seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      applied,
    };
  } finally {
    await set.stop();
    await github.close();
    rmSync(trees, { recursive: true, force: true });
    for (const ns of namespaces.values()) {
      await api
        .delete({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })
        .catch(() => undefined);
    }
  }
}

export async function run(): Promise<void> {
  const redis = await startRedis();
  try {
    const rows: Figures[] = [];
    rows.push(await measure("1 replica, in-process queue (baseline)", 1, undefined));
    rows.push(await measure("1 replica, Redis", 1, redis.url));
    await redis.flush();
    rows.push(await measure("3 replicas, Redis", 3, redis.url));
    printTable(
      `${PUSHES} pushes across ${REPOSITORIES} repositories, push → final gitops/dev status (2 cores shared)`,
      ["setup", "wall", "pushes/s", "p50", "p99", "applied (rest superseded / failed)"],
      rows.map((f) => [
        f.setup,
        `${f.seconds.toFixed(1)} s`,
        f.throughput.toFixed(1),
        ms(f.p50),
        ms(f.p99),
        f.applied,
      ]),
    );
    for (const f of rows) {
      for (const line of f.notApplied) console.log(`${f.setup}: last commit not applied: ${line}`);
    }
  } finally {
    await redis.stop();
  }
}
