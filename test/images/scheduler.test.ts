// The scan scheduler: interval runs, on-demand runs, no overlap, and failures that do not stop the schedule.
import { afterEach, describe, expect, test, vi } from "vitest";
import { ImageScanScheduler } from "../../src/images/scheduler.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("ImageScanScheduler", () => {
  test("runs a new task at once and then on its interval", async () => {
    vi.useFakeTimers();
    const runs: number[] = [];
    const scheduler = new ImageScanScheduler();
    scheduler.schedule([{ key: "a", intervalMs: 60_000, run: async () => void runs.push(Date.now()) }]);
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(59_999);
    expect(runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toHaveLength(2);
    scheduler.stop();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(runs).toHaveLength(2);
  });

  test("an on-demand run during a run queues exactly one more, never two at once", async () => {
    vi.useFakeTimers();
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const scheduler = new ImageScanScheduler();
    const run = async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      active--;
    };
    scheduler.schedule([{ key: "a", intervalMs: 60_000, run }]);
    void scheduler.runNow("a");
    void scheduler.runNow("a");
    await vi.advanceTimersByTimeAsync(2_500);
    expect(runs).toBe(2);
    expect(maxActive).toBe(1);
    scheduler.stop();
  });

  test("a failing run is logged and the schedule goes on; removed tasks stop", async () => {
    vi.useFakeTimers();
    const warnings: unknown[] = [];
    let runs = 0;
    const scheduler = new ImageScanScheduler(
      { warn: (object: unknown) => void warnings.push(object) } as never,
      { minIntervalMs: 1_000 },
    );
    scheduler.schedule([
      {
        key: "a",
        intervalMs: 1_000,
        run: async () => {
          runs++;
          throw new Error("registry down");
        },
      },
    ]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runs).toBe(2);
    expect(warnings[0]).toEqual({ scan: "a", error: "registry down" });
    scheduler.schedule([]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(runs).toBe(2);
    scheduler.stop();
  });

  test("interval: 0s runs at the default floor of 30 s, not in a loop", async () => {
    vi.useFakeTimers();
    const warnings: unknown[] = [];
    let runs = 0;
    const scheduler = new ImageScanScheduler({
      warn: (object: unknown) => void warnings.push(object),
    } as never);
    scheduler.schedule([{ key: "zero", intervalMs: 0, run: async () => void runs++ }]);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(30_001);
    expect(runs).toBe(3);
    expect(warnings).toEqual([{ scan: "zero", intervalMs: 0, usedMs: 30_000 }]);
    scheduler.stop();
  });

  test("the floor is the operator's minInterval when given", async () => {
    vi.useFakeTimers();
    let runs = 0;
    const scheduler = new ImageScanScheduler(undefined, { minIntervalMs: 120_000 });
    scheduler.schedule([{ key: "a", intervalMs: 1_000, run: async () => void runs++ }]);
    await vi.advanceTimersByTimeAsync(119_999);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toBe(2);
    scheduler.stop();
  });

  test.each([
    ["interval: 0s", 0],
    ["a NaN interval", Number.NaN],
    ["an interval past Node's timer range (100000h)", 100_000 * 3_600_000],
    ["an infinite interval", Number.POSITIVE_INFINITY],
  ])("%s never loops on real timers", async (_label, intervalMs) => {
    // Real timers: Node fires a delay over 2^31-1 ms after 1 ms, which is exactly the loop to prevent.
    let runs = 0;
    const scheduler = new ImageScanScheduler(undefined, { minIntervalMs: 50 });
    scheduler.schedule([{ key: "a", intervalMs, run: async () => void runs++ }]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    scheduler.stop();
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(runs).toBeLessThanOrEqual(7);
  });

  test("delayFor clamps into [floor, 2^31-1]", () => {
    const scheduler = new ImageScanScheduler(undefined, { minIntervalMs: 30_000 });
    const task = (intervalMs: number) => ({ key: "a", intervalMs, run: async () => {} });
    expect(scheduler.delayFor(task(0))).toBe(30_000);
    expect(scheduler.delayFor(task(300_000))).toBe(300_000);
    expect(scheduler.delayFor(task(1e15))).toBe(2_147_483_647);
  });
});
