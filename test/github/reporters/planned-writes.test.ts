import { pino } from "pino";
import { describe, expect, test } from "vitest";
import type { GitHubClient } from "../../../src/github/client.js";
import { type PlannedWrite, PlannedWrites, retryable } from "../../../src/github/reporters/planned-writes.js";
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
