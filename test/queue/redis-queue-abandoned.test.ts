// A job the Redis queue gives up on — lost more than `maxStalledCount` times, its replica stopping while it ran
// each time — is reported once, cluster-wide, through the `abandoned` hook (with its payload and how often it
// was lost), and its origin is forgotten so that a redelivery runs it again; a run that throws is not (its
// handler reported it). Real redis-server; replicas are queue instances on connections of their own, a lost
// replica one whose connection drops mid-run and whose handler never returns.
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { RedisQueue, type RedisQueueOptions } from "../../src/queue/redis-queue.js";
import type { WorkQueueHandlers } from "../../src/queue/work-queue.js";
import { type RedisServer, startRedis } from "../support/redis.js";

interface Payload {
  key: string;
  n: number;
  origin?: string;
}

let redis: RedisServer;
const open: Array<{ close(): Promise<void> }> = [];
beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(() => redis?.stop());
afterEach(async () => {
  await Promise.all(open.splice(0).map((q) => q.close().catch(() => undefined)));
  await redis.flush();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// A lock lost after 1 s, looked for every 0.3 s; one restart allowed, so the second loss gives the job up.
const fast: Partial<RedisQueueOptions<Payload>> = {
  lockDurationMs: 1_000,
  stalledIntervalMs: 300,
  maxStalledCount: 1,
};

function replica(
  handlers: WorkQueueHandlers<Payload>,
  options: Partial<RedisQueueOptions<Payload>> = {},
  connection: Redis = redis.client(),
): RedisQueue<Payload> {
  const queue = new RedisQueue<Payload>(handlers, {
    connection,
    shards: 2,
    originOf: (job) => job.payload.origin,
    ...fast,
    ...options,
  });
  open.push(queue);
  return queue;
}

/** A replica that is lost as soon as it starts a job: its connection drops and its handler blocks for good. */
function dyingReplica(name: string, runs: string[], handlers: Partial<WorkQueueHandlers<Payload>>) {
  const connection = redis.client();
  const queue = replica(
    {
      ...handlers,
      run: async ({ n }, info) => {
        runs.push(`${name} ${n}${info?.restarted ? " (restarted)" : ""}`);
        connection.disconnect();
        await new Promise(() => undefined);
      },
    },
    {},
    connection,
  );
  // Never closed: its job never ends (as a killed process's would not).
  open.pop();
  return queue;
}

describe("redis work queue: a job lost too often", () => {
  test("is given up once, through `abandoned` with its payload, and a redelivery runs it again", async () => {
    const runs: string[] = [];
    const abandoned: Array<{ payload: Payload; reason: string; by: string }> = [];
    const failed: string[] = [];
    const observed: number[] = [];
    // Every replica has the hook: only the one that takes the job out of the queue to fail it may call it.
    const hooks = (by: string): Partial<WorkQueueHandlers<Payload>> => ({
      abandoned: async (payload, reason) => void abandoned.push({ payload, reason, by }),
      failed: (p, err) => void failed.push(`${by} ${p.n}: ${(err as Error).message}`),
    });

    const first = dyingReplica("first", runs, hooks("first"));
    const payload = { key: "k", n: 1, origin: "delivery-1" };
    await first.enqueue({ key: "k", supersedes: false, payload });
    await until("the first start", () => runs.length === 1);
    // Its lock expires; the next replica's stalled-job check restarts the job there, and loses it too.
    dyingReplica("second", runs, hooks("second"));
    await until("the restart", () => runs.length === 2, 20_000);
    const survivor = replica({
      run: async ({ n }, info) => void runs.push(`survivor ${n}${info?.restarted ? " (restarted)" : ""}`),
      ...hooks("survivor"),
    });
    survivor.observe({ abandoned: (p) => void observed.push(p.n) });

    await until("the job to be given up", () => abandoned.length > 0, 20_000);
    // Once only, however many stalled-job checks run after.
    await sleep(1_500);
    expect(runs).toEqual(["first 1", "second 1 (restarted)"]);
    expect(abandoned).toEqual([
      { payload, reason: "lost 2 times (its replica stopped while running it)", by: "survivor" },
    ]);
    expect(failed).toEqual(["survivor 1: job stalled more than allowable limit"]);
    expect(observed).toEqual([1]);

    // Its origin is forgotten: the webhook redelivered runs it (it would be a duplicate for a day otherwise).
    await survivor.enqueue({ key: "k", supersedes: false, payload });
    await survivor.idle();
    expect(runs).toEqual(["first 1", "second 1 (restarted)", "survivor 1"]);
    expect(abandoned).toHaveLength(1);
  }, 60_000);

  test("an `abandoned` that throws (GitHub refused the final report) goes to `failed`; the queue works on", async () => {
    const runs: string[] = [];
    const failed: string[] = [];
    const refused = new Error("GitHub answered 502");
    const first = dyingReplica("first", runs, {});
    // Lost once with no restart allowed: given up by the next replica that takes it.
    await first.enqueue({ key: "k", supersedes: false, payload: { key: "k", n: 1, origin: "d1" } });
    await until("the first start", () => runs.length === 1);
    const survivor = replica(
      {
        run: async ({ n }, info) => void runs.push(`survivor ${n}${info?.restarted ? " (restarted)" : ""}`),
        abandoned: async () => {
          throw refused;
        },
        failed: (p, err) => void failed.push(`${p.n}: ${(err as Error).message}`),
      },
      { maxStalledCount: 0 },
    );
    await until("the job to be given up", () => failed.length >= 2, 20_000);
    expect(failed).toEqual(["1: GitHub answered 502", "1: job stalled more than allowable limit"]);
    // The next job runs: nothing threw out of BullMQ's event handler.
    await survivor.enqueue({ key: "k", supersedes: false, payload: { key: "k", n: 2, origin: "d2" } });
    await survivor.idle();
    expect(runs).toEqual(["first 1", "survivor 2"]);
  }, 60_000);

  test("close() waits for a give-up's report being written (a shutdown never cuts it off)", async () => {
    const runs: string[] = [];
    const steps: string[] = [];
    const first = dyingReplica("first", runs, {});
    await first.enqueue({ key: "k", supersedes: false, payload: { key: "k", n: 1, origin: "d1" } });
    await until("the first start", () => runs.length === 1);
    const survivor = replica(
      {
        run: async ({ n }) => void runs.push(`survivor ${n}`),
        abandoned: async () => {
          steps.push("report started");
          await sleep(800);
          steps.push("report written");
        },
      },
      { maxStalledCount: 0 },
    );
    await until("the report to start", () => steps.length === 1, 20_000);
    await survivor.close();
    steps.push("closed");
    expect(steps).toEqual(["report started", "report written", "closed"]);
  }, 60_000);

  test("a run that throws is reported by `failed` only, never as given up", async () => {
    const abandoned: number[] = [];
    const failed: string[] = [];
    const observed: string[] = [];
    // No restart allowed at all: a run that threw must still not count as lost.
    const queue = replica(
      {
        run: async ({ n }) => {
          if (n === 1) throw new Error("boom");
        },
        abandoned: async (p) => void abandoned.push(p.n),
        failed: (p, err) => void failed.push(`${p.n}: ${(err as Error).message}`),
      },
      { maxStalledCount: 0 },
    );
    queue.observe({
      abandoned: (p) => void observed.push(`abandoned ${p.n}`),
      finished: (p, _ms, ok) => void observed.push(`finished ${p.n} ${ok}`),
    });
    await queue.enqueue({ key: "k", supersedes: false, payload: { key: "k", n: 1, origin: "d1" } });
    await queue.enqueue({ key: "k", supersedes: false, payload: { key: "k", n: 2, origin: "d2" } });
    await queue.idle();
    // Past a lock and two stalled-job checks: nothing is given up later either.
    await sleep(1_500);
    expect(failed).toEqual(["1: boom"]);
    expect(abandoned).toEqual([]);
    expect(observed).toEqual(["finished 1 false", "finished 2 true"]);
  }, 30_000);
});
