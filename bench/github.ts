// Issue 4's benchmark. (1) Webhook acknowledgement: 500 signed push deliveries POSTed to the real probot HTTP
// server with gitops-bot loaded, p50/p99 of the response time — beside the same server answering /healthz, the
// floor for one HTTP round trip. (2) Push to final status: a 200-object change pushed through the bot (GitHub
// answered by nock, the cluster real), from delivery to the last `gitops/<cluster>` status — beside the plain
// engine reconciling the same kind of change. (3) Issue 10: content-creating GitHub requests per push and push →
// final `gitops/<cluster>` status for 2 and 20 Kustomizations with the production client's throttling on
// (GitHub's secondary limits space writes a second apart), beside the engine's own time for the run. (4) The
// event stream's cost: a 1,000-object no-op reconcile with every reporter subscribed, beside the same reconcile
// with no subscriber, interleaved in the same run.

import { execFileSync } from "node:child_process";
import { createHmac, generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { pino } from "pino";
import { Probot, ProbotOctokit, Server } from "probot";
import { stringify } from "yaml";
import { loadKubeConfig, makeObjectApi } from "../src/cluster/kube-client.js";
import { operatorConfigSchema } from "../src/config/operator-config.js";
import type { GitHubClient } from "../src/github/client.js";
import { healthzHandler } from "../src/github/http-routes.js";
import { GitOpsOctokit } from "../src/github/octokit.js";
import { openReportStream } from "../src/github/reporters/index.js";
import { createGitOpsApp } from "../src/index.js";
import { runSucceeded } from "../src/reconcile/result.js";
import { defaultReconcileOptions, reconcileTree } from "../src/reconcile/run.js";
import { freePort } from "../test/support/processes.js";
import { writeRepo as writeEngineRepo } from "./engine.js";
import { benchCluster } from "./support/cluster.js";
import { writeBenchRepo } from "./support/repo.js";
import { ms, percentile, printTable } from "./support/table.js";

const SECRET = "bench-secret";
const OWNER = "bench";
const REPO = "platform";
const API = "https://api.github.com";

// Throttling would space GitHub writes a second apart and measure GitHub's manners, not the bot.
const BenchOctokit = ProbotOctokit.defaults(
  (o: NonNullable<ConstructorParameters<typeof ProbotOctokit>[0]>) => ({
    ...o,
    throttle: { ...o.throttle, enabled: false },
    retry: { enabled: false },
  }),
);

function pushBody(sha: string): string {
  return JSON.stringify({
    ref: "refs/heads/main",
    before: "0".repeat(40),
    after: sha,
    deleted: false,
    created: false,
    forced: false,
    commits: [],
    head_commit: null,
    installation: { id: 1, node_id: "x" },
    repository: {
      id: 1,
      name: REPO,
      full_name: `${OWNER}/${REPO}`,
      default_branch: "main",
      owner: { login: OWNER, name: OWNER },
    },
    pusher: { name: "bench" },
    sender: { login: "bench", id: 1, type: "User" },
  });
}

function sign(body: string): string {
  return `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
}

async function post(url: string, body: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url, {
    method: "POST",
    body,
    headers: {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": sign(body),
    },
  });
  await res.text();
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
  return performance.now() - started;
}

async function startServer(
  appFn: Parameters<Server["load"]>[0],
  Octokit: typeof ProbotOctokit = BenchOctokit,
): Promise<{ server: Server; port: number }> {
  const port = await freePort();
  const log = pino({ level: "silent" });
  const privateKey = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  }).privateKey;
  const server = new Server({
    host: "127.0.0.1",
    port,
    log,
    Probot: Probot.defaults({ appId: 1, privateKey, secret: SECRET, log, Octokit }),
  });
  await server.load(appFn);
  await server.start();
  return { server, port };
}

function writeRepo(dir: string, ns: string, generation: number): void {
  const docs: object[] = [{ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }];
  for (let i = 0; i < 200; i++) {
    docs.push({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `cm-${i}`, namespace: ns },
      data: { generation: String(generation), i: String(i) },
    });
  }
  writeBenchRepo(dir, "bench-github", docs);
}

function tarball(dir: string, sha: string): Buffer {
  return execFileSync("tar", [
    "-czf",
    "-",
    "-C",
    dir,
    `--transform=s,^\\.,${OWNER}-${REPO}-${sha.slice(0, 7)},`,
    ".",
  ]);
}

async function ackBenchmark(): Promise<(string | number)[][]> {
  // GitHub answers every job's first call: no .github/gitops.yaml, so the push is ignored after the ack.
  nock(API)
    .persist()
    .post(/\/app\/installations\/\d+\/access_tokens/)
    .reply(201, { token: "ghs_bench", expires_at: new Date(Date.now() + 3600e3).toISOString() });
  nock(API)
    .persist()
    .get(/\/contents\//)
    .reply(404, { message: "Not Found" });
  const bot = createGitOpsApp({ routes: [healthzHandler({ mode: "running", startedAt: new Date() })] });
  const { server, port } = await startServer(bot.appFn);
  try {
    const hook = `http://127.0.0.1:${port}/api/github/webhooks`;
    for (let i = 0; i < 20; i++) await post(hook, pushBody(randomBytes(20).toString("hex"))); // warm-up
    const acks: number[] = [];
    // A burst: 500 deliveries, 25 in flight at a time (GitHub delivers concurrently).
    const bodies = Array.from({ length: 500 }, () => pushBody(randomBytes(20).toString("hex")));
    const burstStart = performance.now();
    for (let i = 0; i < bodies.length; i += 25) {
      acks.push(...(await Promise.all(bodies.slice(i, i + 25).map((b) => post(hook, b)))));
    }
    const burstMs = performance.now() - burstStart;
    const health: number[] = [];
    for (let i = 0; i < 500; i += 25) {
      health.push(
        ...(await Promise.all(
          Array.from({ length: 25 }, async () => {
            const t = performance.now();
            await (await fetch(`http://127.0.0.1:${port}/healthz`)).text();
            return performance.now() - t;
          }),
        )),
      );
    }
    await bot.queue.idle();
    return [
      [
        "webhook ack (500 signed pushes, 25 concurrent)",
        ms(percentile(acks, 50)),
        ms(percentile(acks, 99)),
        `${Math.round(500 / (burstMs / 1000))}/s`,
      ],
      ["baseline: GET /healthz, same server", ms(percentile(health, 50)), ms(percentile(health, 99)), "—"],
    ];
  } finally {
    await server.stop();
    nock.cleanAll();
  }
}

async function pushToStatusBenchmark(): Promise<(string | number)[][]> {
  const plane = await benchCluster();
  const work = mkdtempSync(join(tmpdir(), "gitops-bot-bench-github-"));
  const ns = `bench-github-${Date.now().toString(36)}`;
  try {
    const api = makeObjectApi(loadKubeConfig({ kubeconfig: plane.kubeconfigPath }));
    const repoDir = join(work, "repo");
    writeRepo(repoDir, ns, 0);
    const scope = `github.com/${OWNER}/${REPO}:clusters/bench`;
    const options = { ...defaultReconcileOptions(repoDir, "clusters/bench"), scope, skipHealth: true };
    await reconcileTree(api, options); // cold apply, not measured

    // Through the bot: change all 200 objects, push, wait for the final cluster status.
    writeRepo(repoDir, ns, 1);
    const sha = randomBytes(20).toString("hex");
    const config = stringify({ clusters: [{ name: "bench", path: "clusters/bench" }] });
    nock(API)
      .persist()
      .post(/\/access_tokens$/)
      .reply(201, { token: "ghs_bench", expires_at: new Date(Date.now() + 3600e3).toISOString() });
    nock(API)
      .get(/\/contents\//)
      .reply(200, { type: "file", encoding: "base64", content: Buffer.from(config).toString("base64") });
    // Read twice: by the push job before it queues, and by the reconcile before it applies.
    nock(API)
      .get(`/repos/${OWNER}/${REPO}/git/ref/heads%2Fmain`)
      .times(2)
      .reply(200, { ref: "refs/heads/main", object: { sha, type: "commit" } });
    nock(API)
      .get(`/repos/${OWNER}/${REPO}/tarball/${sha}`)
      .reply(200, tarball(repoDir, sha), { "content-type": "application/x-gzip" });
    nock(API).persist().post(`/repos/${OWNER}/${REPO}/check-runs`).reply(201, { id: 1 });
    nock(API).persist().patch(`/repos/${OWNER}/${REPO}/check-runs/1`).reply(200, { id: 1 });
    let finalAt = 0;
    let finalStatus = "";
    nock(API)
      .persist()
      .post(`/repos/${OWNER}/${REPO}/statuses/${sha}`)
      .reply(201, (_uri, body) => {
        const b = body as { context: string; state: string };
        if (b.context === "gitops/bench" && b.state !== "pending") {
          finalAt = performance.now();
          finalStatus = `${b.state}: ${(b as { description?: string }).description}`;
        }
        return { id: 1 };
      });
    const bot = createGitOpsApp({
      operator: operatorConfigSchema.parse({
        images: { enabled: false },
        clusters: [{ name: "bench", kubeconfig: plane.kubeconfigPath, repositories: [`${OWNER}/${REPO}`] }],
      }),
      engine: { skipHealth: true },
    });
    const { server, port } = await startServer(bot.appFn);
    let viaBot: number;
    try {
      const started = performance.now();
      await post(`http://127.0.0.1:${port}/api/github/webhooks`, pushBody(sha));
      await bot.queue.idle();
      if (!finalAt) throw new Error("the bot posted no final status");
      if (!finalStatus.startsWith("success"))
        throw new Error(`the bot's run did not succeed: ${finalStatus}`);
      viaBot = finalAt - started;
    } finally {
      await server.stop();
      nock.cleanAll();
    }

    // The plain engine, same size of change.
    writeRepo(repoDir, ns, 2);
    const t = performance.now();
    const run = await reconcileTree(api, options);
    const plain = performance.now() - t;
    if (!runSucceeded(run))
      throw new Error(`the engine run failed: ${JSON.stringify(run, null, 2).slice(0, 3000)}`);
    const configured = run.kustomizations.reduce(
      (n, k) => n + k.changes.filter((c) => c.action === "configured").length,
      0,
    );
    return [
      ["push → final status, 200 objects changed (bot)", ms(viaBot), "—", `overhead ${ms(viaBot - plain)}`],
      [`baseline: engine alone, ${configured} objects changed`, ms(plain), "—", "—"],
    ];
  } finally {
    try {
      execFileSync(
        "kubectl",
        ["--kubeconfig", (await benchCluster()).kubeconfigPath, "delete", "namespace", ns, "--wait=false"],
        { stdio: "ignore" },
      );
    } catch {
      // the namespace was never created: the benchmark failed before, and that error is the one to see
    }
    rmSync(work, { recursive: true, force: true });
  }
}

/** N Kustomizations (each 5 ConfigMaps; k1… depend on k0) under `clusters/<path>`, objects at `generation`. */
function writeManyRepo(
  dir: string,
  clusterPath: string,
  prefix: string,
  ns: string,
  n: number,
  generation: number,
) {
  rmSync(dir, { recursive: true, force: true });
  const files: Record<string, object[]> = {};
  for (let k = 0; k < n; k++) {
    files[join(clusterPath, `k${k}.yaml`)] = [
      {
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: { name: `${prefix}-k${k}`, namespace: "flux-system" },
        spec: {
          interval: "10m",
          path: `./apps/${prefix}/k${k}`,
          prune: true,
          targetNamespace: ns,
          sourceRef: { kind: "GitRepository", name: "flux-system" },
          ...(k > 0 ? { dependsOn: [{ name: `${prefix}-k0` }] } : {}),
        },
      },
    ];
    // k0 brings the namespace; the others depend on it.
    files[join("apps", prefix, `k${k}`, "objects.yaml")] = [
      ...(k === 0 ? [{ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }] : []),
      ...Array.from({ length: 5 }, (_, i) => ({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `k${k}-cm-${i}` },
        data: { generation: String(generation) },
      })),
    ];
  }
  for (const [file, docs] of Object.entries(files)) {
    mkdirSync(join(dir, file, ".."), { recursive: true });
    writeFileSync(join(dir, file), docs.map((d) => stringify(d)).join("---\n"));
  }
}

interface ThrottledPush {
  requests: number;
  byRoute: Record<string, number>;
  pushToFinalMs: number;
  engineMs: number;
}

/** One push through the bot with the production Octokit (throttling and retries on); GitHub answered by nock. */
async function throttledPush(n: number): Promise<ThrottledPush> {
  const plane = await benchCluster();
  const work = mkdtempSync(join(tmpdir(), "gitops-bot-bench-reports-"));
  const prefix = `reports${n}-${Date.now().toString(36)}`;
  const ns = `bench-${prefix}`;
  const clusterPath = `clusters/${prefix}`;
  const cluster = "bench";
  try {
    const api = makeObjectApi(loadKubeConfig({ kubeconfig: plane.kubeconfigPath }));
    const repoDir = join(work, "repo");
    writeManyRepo(repoDir, clusterPath, prefix, ns, n, 0);
    const scope = `github.com/${OWNER}/${REPO}:${clusterPath}`;
    const cold = await reconcileTree(api, {
      ...defaultReconcileOptions(repoDir, clusterPath),
      scope,
      skipHealth: true,
    });
    if (!runSucceeded(cold)) {
      const why = [
        ...cold.errors,
        ...cold.kustomizations.filter((k) => k.status !== "Ready").map((k) => `${k.name}: ${k.message}`),
      ];
      throw new Error(`cold apply failed: ${why.slice(0, 3).join("; ")}`);
    }
    writeManyRepo(repoDir, clusterPath, prefix, ns, n, 1);

    const sha = randomBytes(20).toString("hex");
    const config = stringify({ clusters: [{ name: cluster, path: clusterPath }] });
    const byRoute: Record<string, number> = {};
    const count = (route: string) => {
      byRoute[route] = (byRoute[route] ?? 0) + 1;
    };
    nock(API)
      .persist()
      .post(/\/access_tokens$/)
      .reply(201, { token: "ghs_bench", expires_at: new Date(Date.now() + 3600e3).toISOString() });
    nock(API)
      .get(/\/contents\//)
      .reply(200, { type: "file", encoding: "base64", content: Buffer.from(config).toString("base64") });
    // Read twice: by the push job before it queues, and by the reconcile before it applies.
    nock(API)
      .get(`/repos/${OWNER}/${REPO}/git/ref/heads%2Fmain`)
      .times(2)
      .reply(200, { ref: "refs/heads/main", object: { sha, type: "commit" } });
    nock(API)
      .get(`/repos/${OWNER}/${REPO}/tarball/${sha}`)
      .reply(200, tarball(repoDir, sha), { "content-type": "application/x-gzip" });
    nock(API)
      .persist()
      .post(`/repos/${OWNER}/${REPO}/check-runs`)
      .reply(201, () => {
        count("POST check-runs");
        return { id: 1 };
      });
    nock(API)
      .persist()
      .patch(`/repos/${OWNER}/${REPO}/check-runs/1`)
      .reply(200, () => {
        count("PATCH check-runs");
        return { id: 1 };
      });
    let finalAt = 0;
    let finalDescription = "";
    nock(API)
      .persist()
      .post(`/repos/${OWNER}/${REPO}/statuses/${sha}`)
      .reply(201, (_uri, body) => {
        count("POST statuses");
        const b = body as { context: string; state: string; description?: string };
        if (b.context === `gitops/${cluster}` && b.state !== "pending") {
          finalAt = performance.now();
          finalDescription = `${b.state}: ${b.description}`;
        }
        return { id: 1 };
      });
    const bot = createGitOpsApp({
      operator: operatorConfigSchema.parse({
        images: { enabled: false },
        clusters: [{ name: cluster, kubeconfig: plane.kubeconfigPath, repositories: [`${OWNER}/${REPO}`] }],
      }),
      engine: { skipHealth: true },
    });
    const { server, port } = await startServer(bot.appFn, GitOpsOctokit);
    try {
      const started = performance.now();
      await post(`http://127.0.0.1:${port}/api/github/webhooks`, pushBody(sha));
      await bot.queue.idle();
      if (!finalAt) throw new Error("the bot posted no final status");
      if (!finalDescription.startsWith("success"))
        throw new Error(`the run did not succeed: ${finalDescription}`);
      // The cluster's status says how long the engine took: "20 Kustomizations ready in 1.9 s".
      const engine = /ready in ([\d.]+) s/.exec(finalDescription);
      return {
        requests: Object.values(byRoute).reduce((a, b) => a + b, 0),
        byRoute,
        pushToFinalMs: finalAt - started,
        engineMs: engine ? Number(engine[1]) * 1000 : Number.NaN,
      };
    } finally {
      await server.stop();
      nock.cleanAll();
    }
  } finally {
    try {
      execFileSync(
        "kubectl",
        ["--kubeconfig", plane.kubeconfigPath, "delete", "namespace", ns, "--wait=false"],
        {
          stdio: "ignore",
        },
      );
    } catch {
      // never created: the error above is the one to see
    }
    rmSync(work, { recursive: true, force: true });
  }
}

async function throttledPushBenchmark(): Promise<(string | number)[][]> {
  const rows: (string | number)[][] = [];
  for (const n of [2, 20]) {
    // Bottleneck's spacing is per process: start each push with the write limiter idle.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const r = await throttledPush(n);
    rows.push([
      `push, ${n} Kustomizations changed (production throttling)`,
      `${r.requests} (goal ≤ ${4 + n})`,
      ms(r.pushToFinalMs),
      ms(r.engineMs),
      `${ms(r.pushToFinalMs - r.engineMs)} (goal ≤ 2 s)`,
      Object.entries(r.byRoute)
        .map(([route, k]) => `${route} ${k}`)
        .join(", "),
    ]);
  }
  return rows;
}

// A GitHub client for the overhead benchmark: every write answers at once, so only our own work is measured.
function instantGitHub(): GitHubClient {
  const answer = async () => ({ data: { id: 1 } });
  const section = new Proxy({}, { get: () => answer });
  // Only `rest.<section>.<method>` and `paginate` are used by the reporters.
  return { rest: new Proxy({}, { get: () => section }), paginate: async () => [] } as unknown as GitHubClient;
}

async function eventStreamOverheadBenchmark(): Promise<(string | number)[][]> {
  const plane = await benchCluster();
  const work = mkdtempSync(join(tmpdir(), "gitops-bot-bench-events-"));
  try {
    const api = makeObjectApi(loadKubeConfig({ kubeconfig: plane.kubeconfigPath }));
    const suffix = Date.now().toString(36);
    const g = writeEngineRepo(
      join(work, "repo"),
      `bench-events-${suffix}`,
      `events${suffix}.bench.example.com`,
      0,
    );
    // The engine suite's layout under a Kustomization name of our own (the engine suite's is its own scope's).
    const kustomizationFile = join(g.dir, g.clusterPath, "apps.yaml");
    writeFileSync(
      kustomizationFile,
      readFileSync(kustomizationFile, "utf8").replace("name: bench-engine", "name: bench-events"),
    );
    const options = {
      ...defaultReconcileOptions(g.dir, g.clusterPath),
      scope: "bench:events",
      skipHealth: true,
    };
    await reconcileTree(api, options); // cold apply
    await reconcileTree(api, options); // warm the build cache and connections
    const log = pino({ level: "silent" });
    const plain: number[] = [];
    const streamed: number[] = [];
    const reporting: number[] = [];
    let events = 0;
    const rounds = 15;
    for (let i = 0; i < rounds; i++) {
      // Interleaved, and the order alternated, so drift in the API server's speed hits both alike.
      for (const withStream of i % 2 === 0 ? [false, true] : [true, false]) {
        const t = performance.now();
        if (withStream) {
          const stream = openReportStream({
            github: instantGitHub(),
            repo: { owner: OWNER, repo: REPO },
            sha: "0".repeat(40),
            log,
            kind: "push",
            checkRuns: { bench: 1 },
            environments: { bench: "staging" },
            pendingStatuses: true,
          });
          const sink = stream.sink("bench");
          await reconcileTree(api, {
            ...options,
            onEvent: (e) => {
              events++;
              sink(e);
            },
            eventMetadata: { cluster: "bench", commit: "0".repeat(40), repository: `${OWNER}/${REPO}` },
          });
          // Reporters render (check run table and graph, statuses, deployment) when the run-finished event is
          // dispatched, on microtasks before this await resumes: that work is inside this figure.
          streamed.push(performance.now() - t);
          // What is left for close() to wait for once the run has returned.
          const closing = performance.now();
          await stream.close();
          reporting.push(performance.now() - closing);
        } else {
          await reconcileTree(api, options);
          plain.push(performance.now() - t);
        }
      }
    }
    const p50 = (xs: number[]) => percentile(xs, 50);
    const overhead = (p50(streamed) - p50(plain)) / p50(plain);
    execFileSync(
      "kubectl",
      ["--kubeconfig", plane.kubeconfigPath, "delete", "namespace", `bench-events-${suffix}`, "--wait=false"],
      {
        stdio: "ignore",
      },
    );
    return [
      [
        "1,000-object no-op reconcile, every reporter subscribed",
        ms(p50(streamed)),
        `${(overhead * 100).toFixed(1)} % (goal < 2 %)`,
        `${Math.round(events / rounds)} events per run, ${rounds} runs each`,
      ],
      ["baseline: the same reconcile, no subscriber", ms(p50(plain)), "—", "interleaved with the above"],
      [
        "left for stream.close() after the run returned",
        ms(p50(reporting)),
        `${((p50(reporting) / p50(plain)) * 100).toFixed(1)} % of the run`,
        "rendering is already in the first row; GitHub answering instantly",
      ],
    ];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const only = process.env.BENCH_GITHUB_ONLY; // "reports" or "events": one part, for quick iterations
  if (!only) {
    const rows = [...(await ackBenchmark()), ...(await pushToStatusBenchmark())];
    printTable(
      "GitHub App: webhook acknowledgement and push-to-status (GitHub answered by nock, cluster real)",
      ["measure", "p50 / time", "p99", "note"],
      rows,
    );
  }
  if (!only || only === "reports") {
    printTable(
      "GitHub reports per push with the production client (throttling on: content-creating requests ≥ 1 s apart)",
      [
        "push",
        "content-creating requests",
        "push → final gitops/<cluster>",
        "engine",
        "reporting after engine",
        "requests",
      ],
      await throttledPushBenchmark(),
    );
  }
  if (!only || only === "events") {
    printTable(
      "Event stream overhead (reporters on the stream, GitHub answering instantly)",
      ["measure", "p50", "overhead", "note"],
      await eventStreamOverheadBenchmark(),
    );
  }
}
