import { describe, expect, test } from "vitest";
import { InMemoryDeliveryLog } from "../../src/queue/delivery-log.js";
import { InMemoryQueue } from "../../src/queue/in-memory-queue.js";

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("in-memory work queue", () => {
  test("runs jobs of one key one at a time, in order, and different keys in parallel", async () => {
    const log: string[] = [];
    let inFlightA = 0;
    let maxA = 0;
    const queue = new InMemoryQueue<{ key: string; n: number }>(
      {
        run: async ({ key, n }) => {
          if (key === "a") maxA = Math.max(maxA, ++inFlightA);
          log.push(`start ${key}${n}`);
          await tick();
          log.push(`end ${key}${n}`);
          if (key === "a") inFlightA--;
        },
      },
      4,
    );
    for (const n of [1, 2, 3]) await queue.enqueue({ key: "a", supersedes: false, payload: { key: "a", n } });
    await queue.enqueue({ key: "b", supersedes: false, payload: { key: "b", n: 1 } });
    await queue.idle();
    expect(maxA).toBe(1);
    expect(log.filter((l) => l.endsWith("a1") || l.endsWith("a2") || l.endsWith("a3"))).toEqual([
      "start a1",
      "end a1",
      "start a2",
      "end a2",
      "start a3",
      "end a3",
    ]);
    // b started before a finished: keys do not block each other.
    expect(log.indexOf("start b1")).toBeLessThan(log.indexOf("end a3"));
  });

  test("a newer job supersedes the waiting one, not the running one", async () => {
    const ran: number[] = [];
    const superseded: [number, number][] = [];
    const queue = new InMemoryQueue<number>({
      run: async (n) => {
        ran.push(n);
        await tick();
      },
      superseded: async (old, by) => {
        superseded.push([old, by]);
      },
    });
    for (const n of [1, 2, 3, 4]) await queue.enqueue({ key: "k", supersedes: true, payload: n });
    await queue.idle();
    expect(ran).toEqual([1, 4]);
    expect(superseded).toEqual([
      [2, 3],
      [3, 4],
    ]);
  });

  test("a failing job is reported and does not stop the lane", async () => {
    const failures: unknown[] = [];
    const ran: number[] = [];
    const queue = new InMemoryQueue<number>({
      run: async (n) => {
        if (n === 1) throw new Error("boom");
        ran.push(n);
      },
      failed: (_n, err) => failures.push(err),
    });
    await queue.enqueue({ key: "k", supersedes: false, payload: 1 });
    await queue.enqueue({ key: "k", supersedes: false, payload: 2 });
    await queue.idle();
    expect(ran).toEqual([2]);
    expect(String(failures[0])).toContain("boom");
  });

  test("close waits for queued work and refuses new jobs", async () => {
    const ran: number[] = [];
    const queue = new InMemoryQueue<number>({
      run: async (n) => {
        await tick();
        ran.push(n);
      },
    });
    await queue.enqueue({ key: "k", supersedes: false, payload: 1 });
    await queue.enqueue({ key: "k", supersedes: false, payload: 2 });
    await queue.close();
    expect(ran).toEqual([1, 2]);
    await expect(queue.enqueue({ key: "k", supersedes: false, payload: 3 })).rejects.toThrow(/shutting down/);
  });

  test("bounds concurrency across keys", async () => {
    let inFlight = 0;
    let max = 0;
    const queue = new InMemoryQueue<number>(
      {
        run: async () => {
          max = Math.max(max, ++inFlight);
          await tick();
          inFlight--;
        },
      },
      2,
    );
    for (const n of [1, 2, 3, 4, 5]) await queue.enqueue({ key: `k${n}`, supersedes: false, payload: n });
    await queue.idle();
    expect(max).toBe(2);
  });
});

interface Job {
  repo: string;
  n: number;
}

/** Jobs that run until released, so a test can hold slots and watch who gets the next one. */
function heldJobs() {
  const started: string[] = [];
  const releases = new Map<string, () => void>();
  const run = (job: Job) =>
    new Promise<void>((resolve) => {
      const id = `${job.repo}${job.n}`;
      started.push(id);
      releases.set(id, resolve);
    });
  const release = (id: string) => {
    const r = releases.get(id);
    if (!r) throw new Error(`${id} is not running`);
    releases.delete(id);
    r();
  };
  return { started, run, release, running: () => [...releases.keys()] };
}

const job = (repo: string, n: number) => ({ key: `${repo}#${n}`, supersedes: false, payload: { repo, n } });
const groupOf = (j: { payload: Job }) => j.payload.repo;

describe("bounds and fairness", () => {
  test("one repository flooding 100 jobs into 4 slots: another repository's job starts at once; the flood past the bound is refused and told so", async () => {
    const held = heldJobs();
    const refused: [string, string][] = [];
    const queue = new InMemoryQueue<Job>(
      {
        run: held.run,
        refused: async (j, reason) => {
          refused.push([`${j.repo}${j.n}`, reason]);
        },
      },
      { concurrency: 4, maxWaiting: 1000, maxWaitingPerGroup: 50, maxRunningPerGroup: 2, groupOf },
    );
    const results = [];
    for (let n = 1; n <= 100; n++) results.push(await queue.enqueue(job("a", n)));
    // Two running (a's share of the 4 slots), 50 waiting, 48 refused.
    expect(held.running()).toEqual(["a1", "a2"]);
    expect(queue.size).toEqual({ running: 2, waiting: 50 });
    expect(refused).toHaveLength(48);
    expect(refused[0]).toEqual(["a53", "not queued: this repository already has 50 jobs waiting"]);
    expect(results.filter((r) => !r.queued)).toHaveLength(48);

    expect(await queue.enqueue(job("b", 1))).toEqual({ queued: true });
    expect(held.running()).toContain("b1");

    // As a's jobs finish, a keeps its two slots, b's next job gets a free one.
    held.release("a1");
    await tick();
    expect(held.running().sort()).toEqual(["a2", "a3", "b1"]);
    for (let i = 0; i < 100 && held.running().length > 0; i++) {
      for (const id of held.running()) held.release(id);
      await tick();
    }
    await queue.idle();
    expect(held.started.filter((id) => id.startsWith("a"))).toHaveLength(52);
  });

  test("free slots go round-robin across repositories, even when a repository may use every slot", async () => {
    const held = heldJobs();
    const queue = new InMemoryQueue<Job>(
      { run: held.run },
      { concurrency: 1, maxRunningPerGroup: 1, groupOf },
    );
    for (let n = 1; n <= 3; n++) await queue.enqueue(job("a", n));
    await queue.enqueue(job("b", 1));
    await queue.enqueue(job("b", 2));
    await queue.enqueue(job("c", 1));
    while (held.running().length > 0) {
      for (const id of held.running()) held.release(id);
      await tick();
    }
    await queue.idle();
    expect(held.started).toEqual(["a1", "b1", "c1", "a2", "b2", "a3"]);

    const all = new InMemoryQueue<Job>({ run: held.run }, { concurrency: 4, maxRunningPerGroup: 4, groupOf });
    held.started.length = 0;
    for (let n = 1; n <= 10; n++) await all.enqueue(job("a", n));
    await all.enqueue(job("b", 1));
    expect(held.running()).toEqual(["a1", "a2", "a3", "a4"]);
    held.release("a1");
    await tick();
    // a may use every slot, but the freed one goes to b, who waited.
    expect(held.running()).toContain("b1");
    while (held.running().length > 0) {
      for (const id of held.running()) held.release(id);
      await tick();
    }
    await all.idle();
  });

  test("bounds the jobs waiting across all repositories", async () => {
    const held = heldJobs();
    const refused: string[] = [];
    const queue = new InMemoryQueue<Job>(
      { run: held.run, refused: async (_j, reason) => void refused.push(reason) },
      { concurrency: 1, maxWaiting: 3, maxWaitingPerGroup: 10, groupOf },
    );
    for (const repo of ["a", "b", "c", "d", "e"]) await queue.enqueue(job(repo, 1));
    expect(refused).toEqual(["not queued: gitops-bot already has 3 jobs waiting"]);
    while (held.running().length > 0) {
      for (const id of held.running()) held.release(id);
      await tick();
    }
    await queue.idle();
    expect(held.started).toEqual(["a1", "b1", "c1", "d1"]);
  });

  test("a job that replaces a waiting one is never refused, and a failing refusal report is a failure", async () => {
    const held = heldJobs();
    const failures: unknown[] = [];
    const queue = new InMemoryQueue<Job>(
      {
        run: held.run,
        refused: async () => {
          throw new Error("GitHub is down");
        },
        superseded: async () => {},
        failed: (_j, err) => failures.push(err),
      },
      { concurrency: 1, maxWaitingPerGroup: 1, groupOf },
    );
    await queue.enqueue({ key: "k", supersedes: true, payload: { repo: "a", n: 1 } });
    await queue.enqueue({ key: "k", supersedes: true, payload: { repo: "a", n: 2 } });
    expect(await queue.enqueue({ key: "k", supersedes: true, payload: { repo: "a", n: 3 } })).toEqual({
      queued: true,
    });
    expect(
      await queue.enqueue({ key: "other", supersedes: false, payload: { repo: "a", n: 4 } }),
    ).toMatchObject({
      queued: false,
    });
    expect(String(failures[0])).toContain("GitHub is down");
    while (held.running().length > 0) {
      for (const id of held.running()) held.release(id);
      await tick();
    }
    await queue.idle();
    expect(held.started).toEqual(["a1", "a3"]);
  });
});

describe("delivery log", () => {
  test("accepts a delivery once, again after it is forgotten, and stays bounded", async () => {
    const log = new InMemoryDeliveryLog(2);
    expect(await log.accept("a")).toBe(true);
    expect(await log.accept("a")).toBe(false);
    log.forget("a");
    expect(await log.accept("a")).toBe(true);
    await log.accept("b");
    await log.accept("c");
    expect(await log.accept("a")).toBe(true);
  });
});
