import { pino } from "pino";
import { describe, expect, test } from "vitest";
import type { GitHubClient } from "../../../src/github/client.js";
import {
  type PlannedWrite,
  PlannedWrites,
  requestedDelayMs,
  retryable,
  retryDelayMs,
} from "../../../src/github/reporters/planned-writes.js";
import { ReportStream } from "../../../src/github/reporters/stream.js";
import { WrittenReports } from "../../../src/github/reporters/written-reports.js";
import { runStopped } from "../../../src/reconcile/events.js";

const log = pino({ level: "silent" });

function recorder() {
  const sent: string[] = [];
  const write = (key: string, priority: number, fingerprint = key, fail?: () => unknown): PlannedWrite => ({
    key,
    priority,
    fingerprint,
    what: key,
    send: async () => {
      const failure = fail?.();
      if (failure) throw failure;
      sent.push(`${key}=${fingerprint}`);
    },
  });
  return { sent, write };
}

describe("PlannedWrites", () => {
  test("sends the most important first, in the order planned among equals", async () => {
    const plan = new PlannedWrites(new WrittenReports(), log);
    const { sent, write } = recorder();
    plan.want(write("object a", 2));
    plan.want(write("cluster", 0));
    plan.want(write("object b", 2));
    plan.want(write("check run", 0));
    await plan.idle();
    expect(sent).toEqual([
      "cluster=cluster",
      "check run=check run",
      "object a=object a",
      "object b=object b",
    ]);
  });

  test("a newer state for a key replaces one not yet sent", async () => {
    const plan = new PlannedWrites(new WrittenReports(), log);
    const { sent, write } = recorder();
    plan.want(write("gitops/dev/apps", 2, "pending"));
    plan.want(write("gitops/dev/apps", 2, "success"));
    await plan.idle();
    expect(sent).toEqual(["gitops/dev/apps=success"]);
  });

  test("what GitHub already has is not written again, by this stream or a later one", async () => {
    const written = new WrittenReports();
    const { sent, write } = recorder();
    const first = new PlannedWrites(written, log);
    first.want(write("gitops/dev", 0, "success 2 created"));
    await first.idle();
    const second = new PlannedWrites(written, log);
    second.want(write("gitops/dev", 0, "success 2 created"));
    second.want(write("gitops/dev/apps", 2, "success"));
    await second.idle();
    expect(sent).toEqual(["gitops/dev=success 2 created", "gitops/dev/apps=success"]);
    expect(second.counts).toEqual({ sent: 1, skipped: 1, failed: 0 });
  });

  test.each([
    ["a 502", { status: 502 }, true, 3],
    ["a network error", new Error("socket hang up"), true, 3],
    ["a 422", { status: 422 }, false, 1],
    ["a 404", { status: 404 }, false, 1],
    ["a 429", { status: 429, response: { headers: {} } }, true, 3],
    ["a 403 secondary limit", { status: 403, message: "You have exceeded a secondary rate limit" }, true, 3],
    ["a 403 refusal", { status: 403, message: "Resource not accessible by integration" }, false, 1],
  ])(
    "after %s: retried %s, %i attempts, then the next write still goes",
    async (_what, failure, retried, attempts) => {
      expect(retryable(failure)).toBe(retried);
      const plan = new PlannedWrites(new WrittenReports(), log, { attempts: 3, baseDelayMs: 1 });
      const { sent, write } = recorder();
      let tries = 0;
      plan.want(
        write("gitops/dev", 0, "x", () => {
          tries++;
          return failure;
        }),
      );
      plan.want(write("gitops/dev/apps", 2));
      await plan.idle();
      expect(tries).toBe(attempts);
      expect(sent).toEqual(["gitops/dev/apps=gitops/dev/apps"]);
      expect(plan.counts.failed).toBe(1);
    },
  );

  test("a 5xx followed by success is written once", async () => {
    const plan = new PlannedWrites(new WrittenReports(), log, { attempts: 3, baseDelayMs: 1 });
    const { sent, write } = recorder();
    let tries = 0;
    plan.want(write("gitops/dev", 0, "ok", () => (tries++ === 0 ? { status: 500 } : undefined)));
    await plan.idle();
    expect(sent).toEqual(["gitops/dev=ok"]);
    expect(tries).toBe(2);
  });
});

describe("retry delays", () => {
  const policy = { baseDelayMs: 500, maxDelayMs: 30_000 };
  const now = 1_700_000_000_000;
  test.each([
    ["429 Retry-After: 3", { status: 429, response: { headers: { "retry-after": "3" } } }, 1, 3_000],
    ["403 Retry-After: 7", { status: 403, response: { headers: { "retry-after": "7" } } }, 1, 7_000],
    [
      "403 x-ratelimit-reset in 10 s",
      {
        status: 403,
        response: { headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(now / 1000 + 10) } },
      },
      1,
      11_000,
    ],
    [
      "429 x-ratelimit-reset in 4 s",
      {
        status: 429,
        response: { headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(now / 1000 + 4) } },
      },
      3,
      5_000,
    ],
    ["a 502, first retry", { status: 502 }, 1, 500],
    ["a 502, third retry", { status: 502 }, 3, 4_500],
    ["a 502, tenth retry (capped)", { status: 502 }, 10, 30_000],
  ])("%s: waits as GitHub asks, else backs off", (_what, err, retry, expected) => {
    expect(retryDelayMs(policy, retry, err, now)).toBe(expected);
  });

  test("no header, no requested delay", () => {
    expect(requestedDelayMs({ status: 429, response: { headers: {} } })).toBeUndefined();
  });

  test("retries until GitHub recovers, within the give-up bound", async () => {
    const plan = new PlannedWrites(new WrittenReports(), log, { baseDelayMs: 1, maxDelayMs: 4 });
    const { sent, write } = recorder();
    let tries = 0;
    plan.want(write("gitops/dev", 0, "ok", () => (tries++ < 12 ? { status: 500 } : undefined)));
    await plan.idle();
    expect(sent).toEqual(["gitops/dev=ok"]);
    expect(tries).toBe(13);

    const bounded = new PlannedWrites(new WrittenReports(), log, { baseDelayMs: 5, giveUpAfterMs: 50 });
    bounded.want(write("gitops/prod", 0, "never", () => ({ status: 503 })));
    await bounded.idle();
    expect(bounded.counts.failed).toBe(1);
  });

  test("a state planned while an older one is being retried replaces it", async () => {
    const plan = new PlannedWrites(new WrittenReports(), log, { baseDelayMs: 30 });
    const { sent, write } = recorder();
    let tries = 0;
    plan.want(write("gitops/dev", 0, "pending", () => (tries++ === 0 ? { status: 500 } : undefined)));
    await new Promise((r) => setTimeout(r, 10));
    plan.want(write("gitops/dev", 0, "success"));
    await plan.idle();
    expect(sent).toEqual(["gitops/dev=success"]);
    expect(plan.counts).toEqual({ sent: 1, skipped: 1, failed: 0 });
  });
});

describe("ReportStream", () => {
  const target = {
    github: {} as GitHubClient,
    repo: { owner: "o", repo: "r" },
    sha: "a".repeat(40),
    log,
    kind: "push" as const,
    pendingStatuses: false,
  };

  test("a reporter that throws neither stops the others nor the emitter", async () => {
    const seen: string[] = [];
    const stream = new ReportStream(target, {
      reporters: {
        broken: () => ({
          on: () => {
            throw new Error("boom");
          },
          close: () => Promise.reject(new Error("boom on close")),
        }),
        rejecting: () => ({ on: () => Promise.reject(new Error("async boom")) }),
        counting: () => ({ on: ({ cluster, event }) => void seen.push(`${cluster}:${event.type}`) }),
        absent: () => undefined,
        failingFactory: () => {
          throw new Error("cannot start");
        },
      },
    });
    expect(() =>
      stream.emit("dev", runStopped({ conclusion: "skipped", message: "superseded" })),
    ).not.toThrow();
    stream.emit("prod", runStopped({ conclusion: "failure", message: "not allowed" }));
    await stream.close();
    expect(seen).toEqual(["dev:run-stopped", "prod:run-stopped"]);
    expect(stream.hasEnded("dev")).toBe(true);
  });

  test("emitting never waits for a slow reporter; close waits within its bound", async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const stream = new ReportStream(target, {
      reporters: { slow: () => ({ on: () => held }) },
      closeTimeoutMs: 50,
    });
    const t = performance.now();
    stream.emit("dev", runStopped({ conclusion: "skipped", message: "x" }));
    expect(performance.now() - t).toBeLessThan(20);
    await stream.close(); // gives up after 50 ms, the reporter goes on in the background
    expect(performance.now() - t).toBeLessThan(1000);
    release();
  });
});
