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

describe("delivery log", () => {
  test("accepts a delivery once, again after it is forgotten, and stays bounded", () => {
    const log = new InMemoryDeliveryLog(2);
    expect(log.accept("a")).toBe(true);
    expect(log.accept("a")).toBe(false);
    log.forget("a");
    expect(log.accept("a")).toBe(true);
    log.accept("b");
    log.accept("c");
    expect(log.accept("a")).toBe(true);
  });
});
