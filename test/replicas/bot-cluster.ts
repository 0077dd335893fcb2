// Several bot server processes sharing one Redis and one fake GitHub, and a sender that delivers signed push
// webhooks round-robin across the live ones as a load balancer would, redelivering a delivery that got no 2xx
// (a replica killed while it answered) to another replica, as GitHub's redelivery does. Used by the replica
// test (test/replicas/) and the benchmark (bench/replicas.ts).
import { spawn } from "node:child_process";
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../support/processes.js";
import type { FakeGitHub } from "./fake-github.js";

export const INSTALLATION_ID = 4242;
export const OWNER = "acme";

export interface Replica {
  name: string;
  port: number;
  alive: boolean;
  output(): string;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<number | null>;
}

export interface ReplicaSetOptions {
  /** Path of the compiled server.js. */
  entry: string;
  count: number;
  redisUrl?: string;
  github: FakeGitHub;
  secret: string;
  privateKey: string;
  /** gitops-bot.yaml */
  operatorConfig: string;
  env?: NodeJS.ProcessEnv;
}

export async function startReplicas(
  opts: ReplicaSetOptions,
): Promise<{ replicas: Replica[]; stop(): Promise<void> }> {
  const dirs: string[] = [];
  const replicas: Replica[] = [];
  for (let i = 0; i < opts.count; i++) {
    const cwd = mkdtempSync(join(tmpdir(), `gitops-bot-replica-${i}-`));
    dirs.push(cwd);
    writeFileSync(join(cwd, "gitops-bot.yaml"), opts.operatorConfig);
    const port = await freePort();
    const child = spawn(process.execPath, [opts.entry], {
      cwd,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: cwd,
        PORT: String(port),
        NO_SMEE_SETUP: "true",
        APP_ID: "1",
        PRIVATE_KEY: opts.privateKey,
        WEBHOOK_SECRET: opts.secret,
        GITOPS_BOT_CONFIG: "gitops-bot.yaml",
        GHE_HOST: opts.github.host,
        GHE_PROTOCOL: "http",
        LOG_LEVEL: (process.env.REPLICA_LOG_LEVEL as "info" | "debug" | undefined) ?? "warn",
        GITOPS_BOT_KUSTOMIZE: process.env.GITOPS_BOT_KUSTOMIZE ?? "kustomize",
        GITOPS_BOT_BUILD_CACHE: "off",
        ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
        ...opts.env,
      },
      stdio: "pipe",
    });
    let output = "";
    // REPLICA_LOG_DIR=<dir> keeps each replica's whole output there (LOG_LEVEL from REPLICA_LOG_LEVEL), to debug.
    const logFile = process.env.REPLICA_LOG_DIR
      ? join(process.env.REPLICA_LOG_DIR, `replica-${i}.log`)
      : undefined;
    const append = (d: Buffer) => {
      output = (output + d).slice(-200_000);
      if (logFile) appendFileSync(logFile, d);
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    const replica: Replica = {
      name: `replica-${i}`,
      port,
      alive: true,
      output: () => output,
      kill: (signal) => {
        replica.alive = false;
        child.kill(signal);
      },
      exited: new Promise((resolve) =>
        child.on("exit", (code) => {
          replica.alive = false;
          resolve(code);
        }),
      ),
    };
    replicas.push(replica);
  }
  const deadline = Date.now() + 60_000;
  for (const r of replicas) {
    for (;;) {
      if (!r.alive) throw new Error(`${r.name} exited at start-up:\n${r.output()}`);
      const ok = await fetch(`http://127.0.0.1:${r.port}/healthz`)
        .then((res) => res.ok)
        .catch(() => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`${r.name} not healthy in 60 s:\n${r.output()}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  return {
    replicas,
    stop: async () => {
      await Promise.all(
        replicas.map(async (r) => {
          if (!r.alive) return;
          r.kill("SIGTERM");
          const killer = setTimeout(() => r.kill("SIGKILL"), 20_000);
          await r.exited;
          clearTimeout(killer);
        }),
      );
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

export function randomSha(): string {
  return randomBytes(20).toString("hex");
}

/**
 * A push to `master` of `repo`, as GitHub signs it. Each repository is its own installation (an organisation
 * each): Octokit paces writes per installation (one a second, GitHub's secondary limit), so one installation
 * would measure that pacing rather than the queue.
 */
export function pushDelivery(secret: string, repo: string, sha: string, installationId = INSTALLATION_ID) {
  const body = JSON.stringify({
    ref: "refs/heads/master",
    before: `${"0".repeat(39)}1`,
    after: sha,
    created: false,
    deleted: false,
    forced: false,
    commits: [],
    repository: {
      id: 1,
      name: repo,
      full_name: `${OWNER}/${repo}`,
      default_branch: "master",
      owner: { login: OWNER, id: 1 },
    },
    sender: { login: "octocat", id: 1 },
    installation: { id: installationId },
  });
  return {
    id: randomUUID(),
    body,
    signature: `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
  };
}

/**
 * Delivers one webhook to the live replicas, starting with `preferred`, until one answers 2xx; returns the
 * replicas it was sent to (more than one: a replica died while answering, and GitHub redelivered it).
 */
export async function deliver(
  replicas: Replica[],
  preferred: number,
  delivery: ReturnType<typeof pushDelivery>,
): Promise<string[]> {
  const tried: string[] = [];
  // Redelivered until answered, for up to a minute: a delivery a killed replica was queueing is refused by
  // the others until its hold expires (10 s, src/queue/redis-queue.ts).
  const deadline = Date.now() + 60_000;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const live = replicas.filter((r) => r.alive);
    const r = live[(preferred + attempt) % live.length];
    if (!r) throw new Error("no replica is alive");
    tried.push(r.name);
    const status = await fetch(`http://127.0.0.1:${r.port}/api/github/webhooks`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": delivery.id,
        "x-hub-signature-256": delivery.signature,
      },
      body: delivery.body,
      signal: AbortSignal.timeout(15_000),
    })
      .then((res) => res.status)
      .catch(() => 0);
    if (status >= 200 && status < 300) return tried;
    await new Promise((res) => setTimeout(res, Math.min(2_000, 200 * (attempt + 1))));
  }
  throw new Error(`delivery ${delivery.id} was answered by no replica: ${tried.join(", ")}`);
}

/** The directory of one commit's tree: one Kustomization applying ConfigMap `commit` whose data names the sha. */
export function commitTree(root: string, ns: string, sha: string): string {
  const dir = join(root, sha);
  mkdirSync(join(dir, "clusters", ns), { recursive: true });
  mkdirSync(join(dir, "apps", ns), { recursive: true });
  writeFileSync(
    join(dir, "clusters", ns, "apps.yaml"),
    [
      "apiVersion: kustomize.toolkit.fluxcd.io/v1",
      "kind: Kustomization",
      "metadata:",
      "  name: apps",
      `  namespace: ${ns}`,
      "spec:",
      "  interval: 10m",
      `  path: ./apps/${ns}`,
      "  prune: true",
      `  targetNamespace: ${ns}`,
      "  sourceRef:",
      "    kind: GitRepository",
      "    name: flux-system",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "apps", ns, "commit.yaml"),
    ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: commit", "data:", `  sha: "${sha}"`, ""].join(
      "\n",
    ),
  );
  return dir;
}

export function operatorConfig(kubeconfig: string, repos: string[], concurrency = 4): string {
  return [
    "clusters:",
    "  - name: dev",
    `    kubeconfig: ${kubeconfig}`,
    `    repositories: [${repos.map((r) => `"${OWNER}/${r}"`).join(", ")}]`,
    "images:",
    "  enabled: false",
    `concurrency: ${concurrency}`,
    "",
  ].join("\n");
}
