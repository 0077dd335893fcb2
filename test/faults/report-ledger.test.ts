// Two report plans writing the same key (the push job's "queued", the run's result) while GitHub fails or is
// slow: the newest state is the last one GitHub receives, whatever the retries do.
import { pino } from "pino";
import { describe, expect, test } from "vitest";
import { type PlannedWrite, PlannedWrites } from "../../src/github/reporters/planned-writes.js";
import { WriteLedger } from "../../src/github/reporters/write-ledger.js";
import { WrittenReports } from "../../src/github/reporters/written-reports.js";

const log = pino({ level: "silent" });
const retry = { baseDelayMs: 30, maxDelayMs: 30 };

function github() {
  const received: string[] = [];
  let failuresLeft = 0;
  let delayMs = 0;
  const write = (fingerprint: string): PlannedWrite => ({
    key: "status o/r@sha gitops/dev",
    priority: 0,
    fingerprint,
    what: fingerprint,
    send: async () => {
      if (failuresLeft > 0) {
        failuresLeft--;
        throw Object.assign(new Error("Server Error"), { status: 500 });
      }
      await new Promise((r) => setTimeout(r, delayMs));
      received.push(fingerprint);
    },
  });
  return {
    received,
    write,
    fail: (n: number) => {
      failuresLeft = n;
    },
    slow: (ms: number) => {
      delayMs = ms;
    },
  };
}

describe("one order per key across plans", () => {
  test("a 'queued' retried during an outage is dropped once the result is planned", async () => {
    const ledger = new WriteLedger();
    const gh = github();
    gh.fail(1);
    const queued = new PlannedWrites(new WrittenReports(), log, retry, ledger);
    const run = new PlannedWrites(new WrittenReports(), log, retry, ledger);
    queued.want(gh.write("pending queued"));
    await new Promise((r) => setTimeout(r, 5));
    run.want(gh.write("success 2 created"));
    await Promise.all([queued.idle(), run.idle()]);
    expect(gh.received).toEqual(["success 2 created"]);
    expect(queued.counts).toMatchObject({ sent: 0, skipped: 1 });
  });

  test("a 'queued' in flight when the result is planned lands first; the result goes after it", async () => {
    const ledger = new WriteLedger();
    const gh = github();
    gh.slow(100);
    const queued = new PlannedWrites(new WrittenReports(), log, retry, ledger);
    const run = new PlannedWrites(new WrittenReports(), log, retry, ledger);
    queued.want(gh.write("pending queued"));
    await new Promise((r) => setTimeout(r, 20));
    run.want(gh.write("success 2 created"));
    await Promise.all([queued.idle(), run.idle()]);
    expect(gh.received).toEqual(["pending queued", "success 2 created"]);
  });

  test("a re-run's result identical to an earlier one is written again after another plan's 'queued'", async () => {
    const ledger = new WriteLedger();
    const written = new WrittenReports();
    const gh = github();
    const first = new PlannedWrites(written, log, retry, ledger);
    first.want(gh.write("success 2 created"));
    await first.idle();
    const queued = new PlannedWrites(new WrittenReports(), log, retry, ledger);
    queued.want(gh.write("pending queued"));
    await queued.idle();
    const rerun = new PlannedWrites(written, log, retry, ledger);
    rerun.want(gh.write("success 2 created"));
    await rerun.idle();
    expect(gh.received).toEqual(["success 2 created", "pending queued", "success 2 created"]);
  });
});
