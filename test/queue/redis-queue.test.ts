// The Redis-backed queue, delivery log and timers against a real redis-server, with two or three instances
// standing for replicas: per-key order and supersede across them, bounds, exactly-once per origin, a replica
// that loses its connection mid-job (its job is finished by another after the lock expires), and timers that
// fire once cluster-wide.
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { RedisDeliveryLog } from "../../src/queue/redis-delivery-log.js";
import { DEFAULT_REDIS_PREFIX, digest, redisKeys } from "../../src/queue/redis-keys.js";
import { RedisQueue, type RedisQueueOptions } from "../../src/queue/redis-queue.js";
import { RedisTimers } from "../../src/queue/redis-timers.js";
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

function replica(
  handlers: WorkQueueHandlers<Payload>,
  options: Partial<RedisQueueOptions<Payload>> = {},
  connection: Redis = redis.client(),
): RedisQueue<Payload> {
  const queue = new RedisQueue<Payload>(handlers, {
    connection,
    shards: 4,
    originOf: (job) => job.payload.origin,
    ...options,
  });
  open.push(queue);
  return queue;
}

describe("redis work queue", () => {
  test("runs one key's jobs one at a time and in order across three replicas, other keys in parallel", async () => {
    const log: string[] = [];
    const inFlight = new Map<string, number>();
    let overlap = false;
    const run = async ({ key, n }: Payload) => {
      const now = (inFlight.get(key) ?? 0) + 1;
      inFlight.set(key, now);
      if (now > 1) overlap = true;
      log.push(`${key}${n}`);
      await sleep(5);
      inFlight.set(key, now - 1);
    };
    const replicas = [replica({ run }), replica({ run }), replica({ run })];
    for (let n = 1; n <= 10; n++) {
      for (const key of ["a", "b", "c", "d", "e"]) {
        // Each job through a different replica, as a load balancer would spread webhooks.
        await replicas[(n + key.charCodeAt(0)) % 3]?.enqueue({ key, supersedes: false, payload: { key, n } });
      }
    }
    await replicas[0]?.idle();
    expect(overlap).toBe(false);
    for (const key of ["a", "b", "c", "d", "e"]) {
      expect(log.filter((l) => l.startsWith(key))).toEqual(
        Array.from({ length: 10 }, (_, i) => `${key}${i + 1}`),
      );
    }
  });

  test("a newer job supersedes the waiting one of its key (reported once), never the running one", async () => {
    const started: number[] = [];
    const superseded: Array<[number, number]> = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const handlers: WorkQueueHandlers<Payload> = {
      run: async ({ n }) => {
        started.push(n);
        if (n === 1) await gate;
      },
      superseded: async (dropped, by) => void superseded.push([dropped.n, by.n]),
    };
    const [a, b] = [replica(handlers), replica(handlers)];
    await a.enqueue({ key: "t", supersedes: true, payload: { key: "t", n: 1 } });
    while (started.length === 0) await sleep(10);
    await b.enqueue({ key: "t", supersedes: true, payload: { key: "t", n: 2 } });
    await a.enqueue({ key: "t", supersedes: true, payload: { key: "t", n: 3 } });
    await b.enqueue({ key: "t", supersedes: true, payload: { key: "t", n: 4 } });
    release();
    await a.idle();
    expect(started).toEqual([1, 4]);
    expect(superseded).toEqual([
      [2, 3],
      [3, 4],
    ]);
  });

  test("refuses past the per-group and total bounds, and says why", async () => {
    const refused: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let firstStarted: () => void = () => undefined;
    const running = new Promise<void>((r) => {
      firstStarted = r;
    });
    const queue = replica(
      {
        run: () => {
          firstStarted();
          return gate;
        },
        refused: async (p, reason) => void refused.push(`${p.key}${p.n}: ${reason}`),
      },
      { shards: 1, maxWaitingPerGroup: 2, maxWaiting: 3, groupOf: (job) => job.key.slice(0, 1) },
    );
    const results = [];
    try {
      for (const [key, n] of [
        ["a1", 1],
        ["a2", 2],
        ["a3", 3],
        ["a4", 4],
        ["b1", 5],
        ["b2", 6],
      ] as const) {
        results.push((await queue.enqueue({ key, supersedes: false, payload: { key, n } })).queued);
        // a1 must be running, not waiting, before the bounds are counted (a worker picks it up asynchronously).
        if (n === 1) await running;
      }
      // a1 runs (not waiting); a2, a3 wait; a4 exceeds the group's 2; b1 makes 3 in all; b2 exceeds 3.
      expect(results).toEqual([true, true, true, false, true, false]);
      expect(refused).toEqual([
        "a44: not queued: this repository already has 2 jobs waiting",
        "b26: not queued: gitops-bot already has 3 jobs waiting",
      ]);
    } finally {
      release();
      await queue.idle();
    }
  });

  test("a job enqueued twice from the same origin (a redelivery on another replica) runs once", async () => {
    const runs: number[] = [];
    const duplicates: string[] = [];
    const run = async ({ n }: Payload) => void runs.push(n);
    const duplicate = async (dropped: Payload, kept: Payload | undefined) =>
      void duplicates.push(`${dropped.n} kept ${kept?.n}`);
    const [a, b] = [replica({ run, duplicate }), replica({ run, duplicate })];
    await a.enqueue({ key: "k", supersedes: false, payload: { key: "k", n: 1, origin: "delivery-1" } });
    await b.enqueue({ key: "k", supersedes: false, payload: { key: "k", n: 1, origin: "delivery-1" } });
    await a.idle();
    await b.enqueue({ key: "k", supersedes: false, payload: { key: "k", n: 1, origin: "delivery-1" } });
    await a.idle();
    expect(runs).toEqual([1]);
    // Told, with the payload of the job that ran, so that a second check run can be closed.
    expect(duplicates).toEqual(["1 kept 1", "1 kept 1"]);
  });

  test("a replica killed between reserving a delivery's job and adding it: a webhook copy is refused, a waiting copy queues it after the hold", async () => {
    const runs: number[] = [];
    const queue = replica({ run: async ({ n }) => void runs.push(n) });
    // What the killed replica left: the origin held as pending (RESERVE), no BullMQ job.
    const jobId = `j${digest("k\nd-lost")}`;
    const probe = redis.client();
    await probe.set(redisKeys(DEFAULT_REDIS_PREFIX).origin(jobId), "pending", "PX", 600);
    const job = { key: "k", supersedes: false, payload: { key: "k", n: 1, origin: "d-lost" } };
    // A webhook's copy is refused at once (5xx: GitHub redelivers later, and no later push overtakes it)…
    await expect(queue.enqueue(job)).rejects.toThrow(/being queued by another replica; redeliver it/);
    // …a push job's (waitIfHeld) waits the hold out and queues it.
    const started = Date.now();
    expect(await queue.enqueue({ ...job, waitIfHeld: true })).toEqual({ queued: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    await queue.idle();
    expect(runs).toEqual([1]);
    // Its origin is now kept (not pending): the next copy is a duplicate, not run again.
    expect(await probe.get(redisKeys(DEFAULT_REDIS_PREFIX).origin(jobId))).toBe(jobId);
    expect(await probe.pttl(redisKeys(DEFAULT_REDIS_PREFIX).origin(jobId))).toBeGreaterThan(3600_000);
    probe.disconnect();
  });

  test("a copy arriving while another replica is adding the job waits and is a duplicate", async () => {
    const runs: number[] = [];
    const duplicates: string[] = [];
    const [a, b] = [
      replica({ run: async ({ n }) => void runs.push(n) }),
      replica({
        run: async ({ n }) => void runs.push(n),
        duplicate: async (dropped, kept) => void duplicates.push(`${dropped.n} kept ${kept?.n}`),
      }),
    ];
    const jobId = `j${digest("k\nd-racing")}`;
    const probe = redis.client();
    // a holds the origin (as RESERVE leaves it) and adds the job a moment later.
    await probe.set(redisKeys(DEFAULT_REDIS_PREFIX).origin(jobId), "pending", "PX", 5_000);
    const job = { key: "k", supersedes: false, payload: { key: "k", n: 7, origin: "d-racing" } };
    const copy = b.enqueue({ ...job, waitIfHeld: true });
    await sleep(300);
    await probe.del(redisKeys(DEFAULT_REDIS_PREFIX).origin(jobId));
    await a.enqueue(job);
    expect(await copy).toEqual({ queued: true });
    await a.idle();
    expect(runs).toEqual([7]);
    expect(duplicates).toEqual(["7 kept 7"]);
    probe.disconnect();
  });

  test("a replica killed after adding a job but before keeping its origin: a redelivery is a duplicate, bounds intact", async () => {
    const runs: number[] = [];
    const duplicates: string[] = [];
    const queue = replica({
      run: async ({ n }) => void runs.push(n),
      duplicate: async (dropped, kept) => void duplicates.push(`${dropped.n} kept ${kept?.n}`),
    });
    const job = { key: "k", supersedes: false, payload: { key: "k", n: 1, origin: "d-half" } };
    await queue.enqueue(job);
    await queue.idle();
    // The origin mark is gone (as if it had stayed pending and expired); the job is still retained.
    const keys = redisKeys(DEFAULT_REDIS_PREFIX);
    const probe = redis.client();
    await probe.del(keys.origin(`j${digest("k\nd-half")}`));
    await queue.enqueue(job);
    await queue.idle();
    expect(runs).toEqual([1]);
    expect(duplicates).toEqual(["1 kept 1"]);
    // The reservation was undone: nothing counts as waiting.
    expect(await probe.scard(keys.waitingAll)).toBe(0);
    probe.disconnect();
  });

  test("a failed job is reported, and its origin forgotten so that a redelivery retries it", async () => {
    const failed: string[] = [];
    let attempt = 0;
    const queue = replica({
      run: async () => {
        attempt++;
        if (attempt === 1) throw new Error("boom");
      },
      failed: (p, err) => void failed.push(`${p.n}: ${(err as Error).message}`),
    });
    await queue.enqueue({ key: "k", supersedes: false, payload: { key: "k", n: 1, origin: "d" } });
    await queue.idle();
    await queue.enqueue({ key: "k", supersedes: false, payload: { key: "k", n: 1, origin: "d" } });
    await queue.idle();
    expect(failed).toEqual(["1: boom"]);
    expect(attempt).toBe(2);
  });

  test("a replica that vanishes mid-job has its job finished by another after the lock expires, in order", async () => {
    const runs: string[] = [];
    const lost = redis.client();
    const dying = replica(
      {
        run: async ({ key, n }) => {
          runs.push(`dying ${key}${n}`);
          // The replica dies here: its Redis connection drops and it never answers again.
          lost.disconnect();
          await new Promise(() => undefined);
        },
      },
      { lockDurationMs: 1_000, stalledIntervalMs: 500 },
      lost,
    );
    open.pop();
    await dying.enqueue({ key: "k", supersedes: false, payload: { key: "k", n: 1 } });
    while (runs.length === 0) await sleep(10);
    const survivor = replica(
      {
        run: async ({ key, n }, info) =>
          void runs.push(`survivor ${key}${n}${info?.restarted ? " (restarted)" : ""}`),
      },
      { lockDurationMs: 1_000, stalledIntervalMs: 500 },
    );
    await survivor.enqueue({ key: "k", supersedes: false, payload: { key: "k", n: 2 } });
    const started = Date.now();
    await survivor.idle();
    // The re-run is told it is one (a push job then looks for the check run its lost start created).
    expect(runs).toEqual(["dying k1", "survivor k1 (restarted)", "survivor k2"]);
    // Bounded: lock 1 s + one stalled-check interval, with slack for a loaded machine.
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe("redis delivery log", () => {
  test("accepts a recorded delivery once across replicas, again after it is forgotten", async () => {
    const [a, b] = [new RedisDeliveryLog(redis.client()), new RedisDeliveryLog(redis.client())];
    const duplicates: string[] = [];
    b.observe({ duplicate: (id) => duplicates.push(id) });
    expect(await a.accept("d1")).toBe(true);
    await a.record("d1");
    expect(await b.accept("d1")).toBe(false);
    a.forget("d1");
    await sleep(50);
    expect(await b.accept("d1")).toBe(true);
    expect(duplicates).toEqual(["d1"]);
  });

  test("remembers a delivery only once its work is recorded: a replica killed before that refuses nothing", async () => {
    const [a, b] = [new RedisDeliveryLog(redis.client()), new RedisDeliveryLog(redis.client())];
    expect(await a.accept("d2")).toBe(true);
    // a was killed here, before queueing: the redelivery reaching b is worked.
    expect(await b.accept("d2")).toBe(true);
    await b.record("d2");
    expect(await a.accept("d2")).toBe(false);
  });
});

describe("redis timers", () => {
  test("fire once cluster-wide per interval, whichever replica set them; set again replaces; clear stops", async () => {
    const fired: string[] = [];
    const timers = [0, 1, 2].map(
      (r) =>
        new RedisTimers<{ n: number }>(async (payload, id) => void fired.push(`${r} ${id} ${payload.n}`), {
          connection: redis.client(),
          minIntervalMs: 100,
        }),
    );
    open.push(...timers);
    await timers[0]?.set({ id: "scan:acme/fleet:apps", everyMs: 400, firstInMs: 100, payload: { n: 1 } });
    await timers[1]?.set({ id: "scan:acme/fleet:apps", everyMs: 400, firstInMs: 100, payload: { n: 2 } });
    expect(await timers[2]?.list()).toEqual([
      { id: "scan:acme/fleet:apps", everyMs: 400, payload: { n: 2 } },
    ]);
    await sleep(1_500);
    const count = fired.length;
    // About 1,500 / 400 firings, once each (three replicas would make it three times as many).
    expect(count).toBeGreaterThanOrEqual(2);
    expect(count).toBeLessThanOrEqual(5);
    // The second set replaced the first: at most a firing that came before it carries the old payload.
    expect(fired.filter((f) => !f.endsWith("scan:acme/fleet:apps 2")).length).toBeLessThanOrEqual(1);
    expect(fired.at(-1)).toMatch(/scan:acme\/fleet:apps 2$/);
    await timers[2]?.clear("scan:acme/fleet:apps");
    await sleep(800);
    expect(fired.length).toBeLessThanOrEqual(count + 1);
    expect(await timers[0]?.list()).toEqual([]);
  });
});
