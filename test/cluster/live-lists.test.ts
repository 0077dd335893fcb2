// The run-wide LISTs (ssa/live-index.ts SharedLiveLists) against the real API server, as a run that applies
// Kustomizations while others are still building uses them: demand added after a group was listed is answered
// from that LIST while it is recent, and never from an old one.
import { afterEach, describe, expect, it, vi } from "vitest";
import { SharedLiveLists } from "../../src/cluster/ssa/live-index.js";
import { createNamespace, testObjectApi } from "../support/kube.js";

const cm = (name: string, namespace: string) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace },
  data: { v: name },
});

afterEach(() => {
  vi.useRealTimers();
});

describe("run-wide LISTs", () => {
  it("answers objects demanded after the LIST from it while it is recent, then leaves them to a read of their own", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "lists");
    for (const name of ["a", "b", "c", "d", "late"]) await api.create(cm(name, ns));
    const demand = (names: string[]) => names.map((name) => ({ object: cm(name, ns), defaultNamespace: ns }));
    const lists = new SharedLiveLists(api, demand(["a", "b", "c", "d"]));
    const answer = await lists.group(cm("a", ns));
    expect(answer?.(cm("a", ns))).toMatchObject({ metadata: { name: "a" }, data: { v: "a" } });

    // Demanded once the LIST was read (a Kustomization built later): the whole group was kept.
    lists.want(demand(["late", "never-made"]));
    const again = await lists.group(cm("a", ns));
    expect(again?.(cm("late", ns))).toMatchObject({ metadata: { name: "late" } });
    expect(again?.(cm("never-made", ns))).toBeNull();

    // Thirty seconds on, the LIST no longer answers for what was demanded after it; it still does for the rest.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 31_000 });
    const old = await lists.group(cm("a", ns));
    expect(old?.(cm("late", ns))).toBeUndefined();
    expect(old?.(cm("never-made", ns))).toBeUndefined();
    expect(old?.(cm("b", ns))).toMatchObject({ metadata: { name: "b" } });
  });

  it("lists nothing for a group the run applies fewer than four of", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "lists");
    const lists = new SharedLiveLists(api, [{ object: cm("x", ns), defaultNamespace: ns }]);
    expect(await lists.group(cm("x", ns))).toBeUndefined();
  });
});
