// Which unfinished runs the start-up recovery re-runs and which it closes, from this app's check runs.
import { describe, expect, test } from "vitest";
import { clusterOfCheckRun, recoveryActions } from "../../src/github/recovery/journal.js";

const head = "a".repeat(40);
const old = "b".repeat(40);
const run = (id: number, name: string, sha: string, status: string, conclusion: string | null = null) => ({
  id,
  name,
  head_sha: sha,
  status,
  conclusion,
});

describe("recoveryActions", () => {
  test.each([
    [
      "in progress at the head: re-run on it",
      run(1, "gitops / dev", head, "in_progress"),
      [{ kind: "rerun", cluster: "dev", sha: head, reuse: 1 }],
    ],
    [
      "queued at the head: re-run on it",
      run(2, "gitops / dev", head, "queued"),
      [{ kind: "rerun", cluster: "dev", sha: head, reuse: 2 }],
    ],
    [
      "cancelled by a shutdown at the head: re-run, a new check run",
      run(3, "gitops / dev", head, "completed", "cancelled"),
      [{ kind: "rerun", cluster: "dev", sha: head }],
    ],
    [
      "in progress on an older commit: superseded, its check run closed",
      run(4, "gitops / dev", old, "in_progress"),
      [{ kind: "supersede", cluster: "dev", sha: old, head, open: 4 }],
    ],
    [
      "cancelled on an older commit: superseded (statuses only)",
      run(5, "gitops / dev", old, "completed", "cancelled"),
      [{ kind: "supersede", cluster: "dev", sha: old, head }],
    ],
    ["finished: nothing", run(6, "gitops / dev", head, "completed", "success"), []],
    ["failed: nothing (not re-run on every start)", run(7, "gitops / dev", head, "completed", "failure"), []],
    ["a cluster this branch does not drive: nothing", run(8, "gitops / prod", head, "in_progress"), []],
    ["another check (config): nothing", run(9, "gitops / config", head, "in_progress"), []],
    ["a name that only looks like ours: nothing", run(10, "gitops / dev / x", head, "in_progress"), []],
  ])("%s", (_what, checkRun, expected) => {
    expect(recoveryActions([checkRun], ["dev"], head)).toEqual(expected);
  });

  test("a cluster is re-run once even when several of its runs at the head are open", () => {
    const actions = recoveryActions(
      [run(1, "gitops / dev", head, "queued"), run(2, "gitops / dev", head, "in_progress")],
      ["dev"],
      head,
    );
    expect(actions).toEqual([{ kind: "rerun", cluster: "dev", sha: head, reuse: 1 }]);
  });

  test("clusterOfCheckRun reads only `gitops / <dns label>`", () => {
    expect(clusterOfCheckRun("gitops / dev-eu1", ["dev-eu1"])).toBe("dev-eu1");
    expect(clusterOfCheckRun("gitops / Dev", ["Dev"])).toBeUndefined();
    expect(clusterOfCheckRun("other / dev", ["dev"])).toBeUndefined();
  });
});
