// Image scans on the Timers seam: one timer per automation, its phase kept across re-reads, gone automations
// cleared; and with Redis, two replicas' schedules share the timers, so a scan fires once cluster-wide and
// keeps firing when the replica that set it is gone.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type ImageScanTimer, ImageSchedule } from "../../src/github/image-schedule.js";
import { InMemoryTimers } from "../../src/queue/in-memory-timers.js";
import { RedisTimers } from "../../src/queue/redis-timers.js";
import { ManualClock } from "../../src/schedule/clock.js";
import { type RedisServer, startRedis } from "../support/redis.js";

const target = { installationId: 7, owner: "Acme", repo: "Fleet", defaultBranch: "main" };

describe("image schedule", () => {
  test("one timer per automation: new ones are returned to scan now, kept ones keep their phase", async () => {
    const clock = new ManualClock();
    const fired: ImageScanTimer[] = [];
    const images = new ImageSchedule({
      timers: (h) => new InMemoryTimers(h, { clock, minIntervalMs: 1_000, jitterPercent: 0 }),
      fire: async (t) => void fired.push(t),
      minIntervalMs: 1_000,
    });
    expect(
      await images.scheduleRepository(target, [
        { key: "apps/a", intervalMs: 10_000 },
        { key: "apps/b", intervalMs: 20_000 },
      ]),
    ).toEqual(["apps/a", "apps/b"]);
    await clock.advance(6_000);
    // Re-read (a push) with a is kept and b's interval changed: only new ones are returned; a keeps its phase.
    expect(
      await images.scheduleRepository({ ...target, owner: "acme", repo: "fleet" }, [
        { key: "apps/a", intervalMs: 10_000 },
        { key: "apps/b", intervalMs: 5_000 },
        { key: "apps/c", intervalMs: 60_000 },
      ]),
    ).toEqual(["apps/c"]);
    await clock.advance(4_000);
    expect(fired.map((t) => t.automation)).toEqual(["apps/a"]);
    expect(fired[0]).toEqual({ ...target, automation: "apps/a" });
    await clock.advance(1_000);
    expect(fired.map((t) => t.automation)).toEqual(["apps/a", "apps/b"]);
    // An automation that left Git (or was suspended) stops firing.
    await images.scheduleRepository(target, [{ key: "apps/c", intervalMs: 60_000 }]);
    expect((await images.list("acme/fleet")).map((t) => t.id)).toEqual(["images:acme/fleet:apps/c"]);
    fired.length = 0;
    await clock.advance(30_000);
    expect(fired).toEqual([]);
    await images.close();
  });
});

describe("image schedule on Redis, two replicas", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  }, 30_000);
  afterAll(() => redis?.stop());

  test("a scan fires once per interval cluster-wide, and keeps firing after the replica that set it closes", async () => {
    const fired: string[] = [];
    const replica = (name: string) =>
      new ImageSchedule({
        timers: (h) => new RedisTimers(h, { connection: redis.client(), name: "images", minIntervalMs: 500 }),
        fire: async (t) => void fired.push(`${name} ${t.automation}`),
        minIntervalMs: 500,
      });
    const [a, b] = [replica("a"), replica("b")];
    expect(await a.scheduleRepository(target, [{ key: "apps/a", intervalMs: 1_000 }])).toEqual(["apps/a"]);
    // The other replica sees the timer a set: nothing new to scan.
    expect(await b.scheduleRepository(target, [{ key: "apps/a", intervalMs: 1_000 }])).toEqual([]);
    await new Promise((r) => setTimeout(r, 3_600));
    const firings = fired.length;
    // One firing per second across both replicas (not two), give or take the scheduler's start.
    expect(firings).toBeGreaterThanOrEqual(2);
    expect(firings).toBeLessThanOrEqual(4);
    await a.close();
    fired.length = 0;
    await new Promise((r) => setTimeout(r, 2_600));
    expect(fired.length).toBeGreaterThanOrEqual(1);
    expect(fired.every((f) => f === "b apps/a")).toBe(true);
    await b.close();
  });
});
