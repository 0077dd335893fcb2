// The in-memory Timers and the per-object schedule on a manual clock: Flux's jitter, the operator's floor, one
// run per target while its runs wait or go on, retryInterval after a failure, nothing for suspended objects.
import { describe, expect, it, test } from "vitest";
import { InMemoryTimers } from "../../src/queue/in-memory-timers.js";
import { ManualClock } from "../../src/schedule/clock.js";
import { jitteredInterval } from "../../src/schedule/jitter.js";
import { ReconcileSchedule, timerId } from "../../src/schedule/reconcile-schedule.js";

test.each([
  [0, 57_000],
  [0.5, 60_000],
  [0.999999, 63_000],
])("jitter on 1 m at 5 percent: random %s gives %s ms", (random, expected) => {
  expect(jitteredInterval(60_000, 5, () => random)).toBe(expected);
});

describe("InMemoryTimers", () => {
  it("fires every interval with jitter, replaces a timer of the same id, and stops on clear", async () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    const timers = new InMemoryTimers<string>(async () => void fired.push(clock.now()), {
      clock,
      random: () => 0,
      minIntervalMs: 1000,
    });
    await timers.set({ id: "a", everyMs: 60_000, payload: "x" });
    await clock.advance(3 * 57_000);
    expect(fired).toEqual([57_000, 114_000, 171_000]);
    await timers.set({ id: "a", everyMs: 120_000, firstInMs: 10_000, payload: "y" });
    await clock.advance(10_000);
    expect(fired.at(-1)).toBe(181_000);
    expect(await timers.list()).toEqual([{ id: "a", everyMs: 120_000, payload: "y" }]);
    await timers.clear("a");
    await clock.advance(1_000_000);
    expect(fired).toHaveLength(4);
  });

  it("holds every interval and first delay to the operator's floor: interval 0s does not loop", async () => {
    const clock = new ManualClock();
    let fired = 0;
    const timers = new InMemoryTimers<null>(async () => void fired++, {
      clock,
      minIntervalMs: 30_000,
      jitterPercent: 0,
    });
    await timers.set({ id: "zero", everyMs: 0, firstInMs: 0, payload: null });
    await clock.advance(60_000);
    expect(fired).toBe(2);
    expect((await timers.list())[0]?.everyMs).toBe(30_000);
  });

  it("never overlaps a timer with itself: a firing while its handler runs is skipped", async () => {
    const clock = new ManualClock();
    let release: () => void = () => {};
    let calls = 0;
    const timers = new InMemoryTimers<null>(
      () => {
        calls++;
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
      { clock, minIntervalMs: 1000, jitterPercent: 0 },
    );
    await timers.set({ id: "slow", everyMs: 1000, payload: null });
    await clock.advance(3000);
    expect(calls).toBe(1);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(1000);
    expect(calls).toBe(2);
    release();
    await timers.close();
  });
});

describe("ReconcileSchedule", () => {
  const target = { key: "github.com/acme/fleet:dev" };
  function schedule(clock: ManualClock) {
    const runs: string[][] = [];
    const s = new ReconcileSchedule<typeof target>({
      timers: (handler) =>
        new InMemoryTimers(handler, { clock, minIntervalMs: 1000, jitterPercent: 5, random: () => 0.5 }),
      enqueue: async (_t, subjects) => {
        runs.push(subjects);
        return true;
      },
    });
    return { s, runs };
  }

  it("one run per target while a run waits or goes on; retryInterval after a failure; none when suspended", async () => {
    const clock = new ManualClock();
    const { s, runs } = schedule(clock);
    await s.observe(target, [
      { subject: "Kustomization/flux-system/a", everyMs: 60_000, retryMs: 60_000, status: "Ready" },
      { subject: "Kustomization/flux-system/b", everyMs: 60_000, retryMs: 10_000, status: "Failed" },
      { subject: "Kustomization/flux-system/c", everyMs: 60_000, retryMs: 60_000, status: "Suspended" },
    ]);
    expect((await s.list()).map((t) => t.id).sort()).toEqual([
      timerId(target.key, "Kustomization/flux-system/a"),
      timerId(target.key, "Kustomization/flux-system/b"),
    ]);
    await clock.advance(10_000);
    expect(runs).toEqual([["Kustomization/flux-system/b"]]);
    // The run has not started: a's firing joins it instead of queueing a second one.
    await clock.advance(50_000);
    expect(runs).toHaveLength(1);
    s.started(target.key);
    await clock.advance(60_000);
    expect(runs).toHaveLength(1);
    s.finished(target.key);
    await s.observe(target, [
      { subject: "Kustomization/flux-system/a", everyMs: 60_000, retryMs: 60_000, status: "Ready" },
      { subject: "Kustomization/flux-system/b", everyMs: 60_000, retryMs: 10_000, status: "Ready" },
    ]);
    await clock.advance(60_000);
    expect(runs).toHaveLength(2);
    await s.close();
  });

  it("restores objects at start-up without replacing timers the Timers already hold", async () => {
    const clock = new ManualClock();
    const { s } = schedule(clock);
    await s.observe(target, [
      { subject: "Kustomization/flux-system/a", everyMs: 300_000, retryMs: 300_000, status: "Ready" },
    ]);
    const set = await s.restore([
      { target, subjects: ["Kustomization/flux-system/a", "Kustomization/flux-system/b"] },
    ]);
    expect(set).toBe(1);
    const byId = new Map((await s.list()).map((t) => [t.id, t.everyMs]));
    expect(byId.get(timerId(target.key, "Kustomization/flux-system/a"))).toBe(300_000);
    await s.close();
  });
});
