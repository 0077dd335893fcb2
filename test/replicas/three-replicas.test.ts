// Three bot processes sharing one real redis-server (REDIS_URL) and one GitHub (simulated on the loopback),
// reconciling into the real API server: 300 signed push deliveries across 20 repositories, spread across the
// replicas, and one replica killed with SIGKILL in the middle. Every delivery is worked exactly once (one
// check run per commit, one final status per commit), per-target order holds (no older commit is applied after
// a newer one; each repository ends at its last commit), and nothing is left pending.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { digest, shardOf } from "../../src/queue/redis-keys.js";
import { type BuiltServer, buildServer, testAppKey } from "../security/server-process.js";
import { createNamespace, testObjectApi } from "../support/kube.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import {
  commitTree,
  deliver,
  INSTALLATION_ID,
  OWNER,
  operatorConfig,
  pushDelivery,
  type Replica,
  randomSha,
  startReplicas,
} from "./bot-cluster.js";
import { completed, type FakeGitHub, type RecordedCheckRun, startFakeGitHub } from "./fake-github.js";

const SECRET = "replicas-Wq8mZ3xK5vN2pT7b";
const REPOSITORIES = 20;
const PUSHES_PER_REPOSITORY = 15;

let built: BuiltServer;
let redis: RedisServer;
let github: FakeGitHub;
let trees: string;
beforeAll(async () => {
  built = buildServer();
  redis = await startRedis();
  github = await startFakeGitHub();
  trees = mkdtempSync(join(tmpdir(), "gitops-bot-replica-trees-"));
}, 180_000);
afterAll(async () => {
  await github?.close();
  await redis?.stop();
  built?.remove();
  if (trees) rmSync(trees, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("three replicas on one Redis", () => {
  it("works each of 300 deliveries once, in order per target, with one replica SIGKILLed mid-way", {
    timeout: 420_000,
  }, async () => {
    const api = testObjectApi();
    const repos = Array.from({ length: REPOSITORIES }, (_, i) => `fleet-${i}`);
    const namespaces = new Map<string, string>();
    for (const repo of repos) {
      const ns = await createNamespace(api, "replica");
      namespaces.set(repo, ns);
      github.repositories.set(`${OWNER}/${repo}`, {
        config: `clusters:\n  - name: dev\n    path: clusters/${ns}\n`,
        head: "0".repeat(40),
        trees: new Map(),
      });
    }
    const set = await startReplicas({
      entry: built.entry,
      count: 3,
      redisUrl: redis.url,
      github,
      secret: SECRET,
      privateKey: testAppKey(),
      operatorConfig: operatorConfig(inject("kubeconfigPath"), repos),
    });
    const victim = set.replicas[1] as Replica;
    try {
      // Push order per repository: the commits each repository's deliveries carried, oldest first.
      const pushed = new Map<string, string[]>(repos.map((r) => [r, []]));
      const redelivered: string[] = [];
      const sentTo = new Map<string, string>();
      let sent = 0;
      let killedAt = -1;
      await Promise.all(
        repos.map(async (repo, r) => {
          const state = github.repositories.get(`${OWNER}/${repo}`);
          if (!state) throw new Error(repo);
          for (let i = 0; i < PUSHES_PER_REPOSITORY; i++) {
            const sha = randomSha();
            state.trees.set(sha, commitTree(trees, namespaces.get(repo) ?? "", sha));
            state.head = sha;
            pushed.get(repo)?.push(sha);
            const delivery = pushDelivery(SECRET, repo, sha, INSTALLATION_ID + r);
            const tried = await deliver(set.replicas, r + i, delivery);
            sentTo.set(sha, `delivery ${delivery.id} → ${tried.join(" → ")}`);
            if (tried.length > 1) redelivered.push(`${repo}@${sha.slice(0, 7)}: ${tried.join(" → ")}`);
            sent++;
            if (sent === 150 && killedAt < 0) {
              killedAt = sent;
              victim.kill("SIGKILL");
            }
            await sleep(50 + ((r * 7 + i * 13) % 100));
          }
        }),
      );
      expect(killedAt).toBe(150);
      expect(await victim.exited).toBeNull();

      // Every commit ends with a final gitops/dev status and its check runs completed (bounded wait: a lost
      // replica's jobs come back after the lock duration, 15 s, plus the stalled check, 5 s).
      const allShas = [...pushed.values()].flat();
      const finalOf = (sha: string) =>
        github.statuses.filter((s) => s.sha === sha && s.context === "gitops/dev" && s.state !== "pending");
      const deadline = Date.now() + 240_000;
      for (;;) {
        const missing = allShas.filter((sha) => finalOf(sha).length === 0);
        const open = [...github.checkRuns.values()].filter((c) => !completed(c));
        if (missing.length === 0 && open.length === 0) break;
        if (Date.now() > deadline) {
          // What Redis holds for each missing commit's push and reconcile jobs (state, attempts, origin mark).
          const probe = redis.client();
          const diagnosis: string[] = [];
          for (const sha of missing) {
            const repo = [...pushed].find(([, shas]) => shas.includes(sha))?.[0] ?? "";
            const delivery = /delivery (\S+)/.exec(sentTo.get(sha) ?? "")?.[1] ?? "";
            for (const key of [`push:${OWNER}/${repo}@refs/heads/master`, `reconcile:${OWNER}/${repo}:dev`]) {
              const id = `j${digest(`${key}\n${delivery}`)}`;
              const queue = new Queue(`work-${shardOf(key, 16)}`, {
                connection: probe,
                prefix: "gitops-bot",
              });
              const job = await queue.getJob(id);
              const state = job ? await job.getState() : "absent";
              const origin = await probe.get(`gitops-bot:origin:${id}`);
              diagnosis.push(
                `${key} ${id}: ${state}, attemptsStarted ${job?.attemptsStarted ?? "-"}, stalled ${job?.stalledCounter ?? "-"}, origin ${origin}, failed ${job?.failedReason ?? "-"}`,
              );
              await queue.close();
            }
          }
          probe.disconnect();
          throw new Error(
            `${diagnosis.join("\n")}\n` +
              `${missing.length} commits without a final status (${missing
                .map((sha) => `${sha.slice(0, 7)}: ${sentTo.get(sha)}`)
                .join(", ")}), ${open.length} check runs open after 240 s (${open
                .map((c) => `#${c.id} ${c.repo}@${c.sha.slice(0, 7)} ${JSON.stringify(c.updates)}`)
                .join("; ")}):\n${set.replicas
                .map((r) => `${r.name}${r.alive ? "" : " (killed)"}:\n${r.output().slice(-3000)}`)
                .join("\n---\n")}`,
          );
        }
        await sleep(250);
      }
      await sleep(3_000);
      console.log(
        `300 deliveries, replica-1 SIGKILLed after ${killedAt}; ${redelivered.length} redelivered: ${redelivered.join("; ") || "none"}`,
      );
      expect(github.unanswered).toEqual([]);
      // GitHub's pacing is shared: probot's throttling (Bottleneck) keeps its limiters in the same Redis.
      const probe = redis.client();
      expect((await probe.keys("b_*")).length).toBeGreaterThan(0);
      // The periodic reconciles' timers live in Redis (one BullMQ job scheduler per object, whichever replica
      // set it), not in each replica's memory: every repository's Kustomization has one.
      const timers = new Queue("timers-reconcile", { connection: probe, prefix: "gitops-bot" });
      const schedulers = await timers.getJobSchedulers(0, -1, true);
      const ids = schedulers.map((s) => (s.template?.data as { id?: string } | undefined)?.id ?? "");
      expect(repos.filter((r) => !ids.some((id) => id.includes(`/${OWNER}/${r}:`.toLowerCase())))).toEqual(
        [],
      );
      await timers.close();
      probe.disconnect();

      // Exactly once: one check run per commit, one final status per commit.
      // A push job re-run after the kill may open a second check run; the queue refuses its reconcile as a
      // duplicate and that check run is closed pointing at the first (src/github/jobs/duplicate-job.ts).
      const duplicate = (c: RecordedCheckRun) =>
        c.updates.some((u) => u.title?.startsWith("Reported by an earlier"));
      const checkRunsPerSha = new Map<string, number>();
      for (const c of github.checkRuns.values()) {
        if (!duplicate(c)) checkRunsPerSha.set(c.sha, (checkRunsPerSha.get(c.sha) ?? 0) + 1);
      }
      const duplicates = [...github.checkRuns.values()].filter(duplicate);
      expect(duplicates.every((c) => checkRunsPerSha.get(c.sha) === 1)).toBe(true);
      const twice = allShas.filter((sha) => (checkRunsPerSha.get(sha) ?? 0) !== 1);
      expect(twice.map((sha) => `${sha.slice(0, 7)}: ${checkRunsPerSha.get(sha) ?? 0} check runs`)).toEqual(
        [],
      );
      const finals = allShas.filter((sha) => finalOf(sha).length !== 1);
      expect(
        finals.map(
          (sha) =>
            `${sha.slice(0, 7)}: ${finalOf(sha)
              .map((s) => `${s.state} ${s.description}`)
              .join(" | ")}`,
        ),
      ).toEqual([]);
      // Nothing pending, no failure: a commit was applied, or it says it was superseded.
      for (const sha of allShas) {
        const [status] = finalOf(sha);
        expect(status?.state, `${sha}: ${status?.description}`).toBe("success");
      }

      // Per-target order: the applied commits of each repository are in push order, and the last is applied.
      let applied = 0;
      for (const repo of repos) {
        const order = pushed.get(repo) ?? [];
        const appliedInOrder = github.statuses
          .filter(
            (s) =>
              s.repo === `${OWNER}/${repo}` &&
              s.context === "gitops/dev" &&
              s.state === "success" &&
              !/superseded/.test(s.description),
          )
          .map((s) => order.indexOf(s.sha));
        applied += appliedInOrder.length;
        expect(appliedInOrder, repo).toEqual([...appliedInOrder].sort((a, b) => a - b));
        expect(appliedInOrder.at(-1), repo).toBe(order.length - 1);
        const cm = (await api.read({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "commit", namespace: namespaces.get(repo) ?? "" },
        })) as { data?: { sha?: string } };
        expect(cm.data?.sha, repo).toBe(order.at(-1));
      }
      console.log(
        `${applied} commits applied, ${allShas.length - applied} superseded; ${duplicates.length} re-run push jobs' second check runs closed as duplicates`,
      );
    } finally {
      await set.stop();
    }
  });
});
