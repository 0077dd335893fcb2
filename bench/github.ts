// Issue 4's benchmark. (1) Webhook acknowledgement: 500 signed push deliveries POSTed to the real probot HTTP
// server with gitops-bot loaded, p50/p99 of the response time — beside the same server answering /healthz, the
// floor for one HTTP round trip. (2) Push to final status: a 200-object change pushed through the bot (GitHub
// answered by nock, the cluster real), from delivery to the last `gitops/<cluster>` status — beside the plain
// engine reconciling the same kind of change.

import { execFileSync } from "node:child_process";
import { createHmac, generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { pino } from "pino";
import { Probot, ProbotOctokit, Server } from "probot";
import { stringify } from "yaml";
import { loadKubeConfig, makeObjectApi } from "../src/cluster/kube-client.js";
import { operatorConfigSchema } from "../src/config/operator-config.js";
import { healthzHandler } from "../src/github/http-routes.js";
import { createGitOpsApp } from "../src/index.js";
import { runSucceeded } from "../src/reconcile/result.js";
import { defaultReconcileOptions, reconcileTree } from "../src/reconcile/run.js";
import { freePort } from "../test/support/processes.js";
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

async function startServer(appFn: Parameters<Server["load"]>[0]): Promise<{ server: Server; port: number }> {
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
    Probot: Probot.defaults({ appId: 1, privateKey, secret: SECRET, log, Octokit: BenchOctokit }),
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
    nock(API)
      .get(`/repos/${OWNER}/${REPO}/git/ref/heads%2Fmain`)
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

export async function run(): Promise<void> {
  const rows = [...(await ackBenchmark()), ...(await pushToStatusBenchmark())];
  printTable(
    "GitHub App: webhook acknowledgement and push-to-status (GitHub answered by nock, cluster real)",
    ["measure", "p50 / time", "p99", "note"],
    rows,
  );
}
