// Sources on their own timers, without the harness: which sources of a planned tree get a poll (used, of a
// polled kind, not the repository itself), what a poll carries (no HelmRelease values: a timer's payload may sit
// in Redis), and how the schedule treats a source's firing (checked only when no run of its target waits or goes
// on; timers of sources that left the tree cleared).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { parseHelmRelease } from "../../src/flux/helm-release.js";
import { parseKustomization } from "../../src/flux/kustomization.js";
import { defaultManifestLimits } from "../../src/flux/manifests.js";
import { InMemoryTimers } from "../../src/queue/in-memory-timers.js";
import type { TreePlan } from "../../src/reconcile/plan.js";
import { ManualClock } from "../../src/schedule/clock.js";
import { ReconcileSchedule, timerId } from "../../src/schedule/reconcile-schedule.js";
import { type SourcePoll, sourcesToPoll } from "../../src/schedule/source-poll.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function kustomization(name: string, source: { kind: string; name: string }) {
  return parseKustomization(
    {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name, namespace: "team" },
      spec: { interval: "10m", path: "./", prune: true, sourceRef: source },
    } as KubernetesObject,
    `clusters/dev/${name}.yaml`,
  );
}

const gitRepository = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: "source.toolkit.fluxcd.io/v1",
  kind: "GitRepository",
  metadata: { name, namespace: "team" },
  spec: { interval: "1m", url: `https://git.example.com/${name}`, ref: { branch: "main" }, ...extra },
});

/** A repository tree with `files` (repository-relative paths). */
function tree(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), "source-poll-"));
  dirs.push(dir);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return dir;
}

describe("sourcesToPoll", () => {
  it("polls the used sources of polled kinds (from the cluster path and from builds), never the repository itself", () => {
    const hr = parseHelmRelease(
      {
        apiVersion: "helm.toolkit.fluxcd.io/v2",
        kind: "HelmRelease",
        metadata: { name: "web", namespace: "team" },
        spec: {
          interval: "1h",
          chart: {
            spec: { chart: "web", version: "1.x", sourceRef: { kind: "HelmRepository", name: "charts" } },
          },
          values: { password: "hunter2-canary" },
        },
      } as KubernetesObject,
      "apps/web.yaml",
    );
    const plan: TreePlan = {
      clusterPath: "clusters/dev",
      kustomizations: [
        {
          ks: kustomization("apps", { kind: "GitRepository", name: "other" }),
          objects: [],
          fluxObjects: [
            gitRepository("other", { include: [{ repository: { name: "shared" } }] }),
            gitRepository("shared"),
            gitRepository("unused"),
            gitRepository("flux-system"),
          ],
        },
        { ks: kustomization("self", { kind: "GitRepository", name: "flux-system" }), objects: [] },
      ],
      helmReleases: [{ hr }],
      notes: [],
    };
    const polls = sourcesToPoll(plan, {
      // The HelmRepository sits directly in the cluster path.
      dir: tree({
        "clusters/dev/charts.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts
  namespace: team
spec:
  interval: 5m
  url: https://charts.example.com
`,
      }),
      selfSourceNames: ["flux-system"],
      limits: defaultManifestLimits(),
    });
    expect(polls.map((p) => [p.subject, p.everyMs, p.dependents])).toEqual([
      ["GitRepository/team/other", 60_000, ["Kustomization/team/apps"]],
      ["HelmRepository/team/charts", 300_000, ["HelmRelease/team/web"]],
    ]);
    expect(polls[0]?.includes.map((s) => s.name)).toEqual(["shared"]);
    // A timer's payload is plain JSON that may be stored in Redis: no values, nothing a Secret went into.
    const helm = polls[1] as SourcePoll;
    expect(JSON.parse(JSON.stringify(helm))).toEqual(helm);
    expect(JSON.stringify(helm)).not.toContain("hunter2-canary");
    expect(helm.charts[0]?.spec.chart?.spec.chart).toBe("web");
  });
});

describe("source timers in the schedule", () => {
  const target = { key: "github.com/acme/fleet:dev" };
  const poll: SourcePoll = {
    subject: "GitRepository/team/other",
    everyMs: 60_000,
    source: {
      kind: "GitRepository",
      name: "other",
      namespace: "team",
      file: "clusters/dev/source.yaml",
      timeoutMs: 60_000,
      spec: { interval: "1m", url: "https://git.example.com/other" },
    } as SourcePoll["source"],
    includes: [],
    charts: [],
    dependents: ["Kustomization/team/apps"],
    revision: "main@sha1:0000000",
  };

  function schedule(enqueue: () => Promise<boolean>) {
    const clock = new ManualClock();
    const checks: string[] = [];
    const s = new ReconcileSchedule<typeof target>({
      timers: (handler) => new InMemoryTimers(handler, { clock, jitterPercent: 0, minIntervalMs: 1000 }),
      enqueue,
      checkSource: async (_t, p) => void checks.push(p.subject),
    });
    return { clock, checks, s };
  }

  it("checks a source on its own interval, not while a run of its target waits, and clears a source that left", async () => {
    let queued = 0;
    const { clock, checks, s } = schedule(async () => ++queued > 0);
    await s.observe(target, [
      { subject: "Kustomization/team/apps", everyMs: 600_000, retryMs: 600_000, status: "Ready" },
    ]);
    await s.observeSources(target, [poll]);
    await clock.advance(60_000);
    expect(checks).toEqual(["GitRepository/team/other"]);
    expect(queued).toBe(0);

    // The Kustomization's timer queued a run that has not started: that run fetches the source, no check.
    await clock.advance(540_000);
    expect(queued).toBe(1);
    expect(checks).toHaveLength(9);
    await clock.advance(60_000);
    expect(checks).toHaveLength(9);
    s.started(target.key);
    s.finished(target.key);
    await clock.advance(60_000);
    expect(checks).toHaveLength(10);

    // The tree no longer uses the source: its timer goes.
    await s.observeSources(target, []);
    expect((await s.list()).map((t) => t.id)).toEqual([timerId(target.key, "Kustomization/team/apps")]);
    await s.close();
  });

  it("forgetting a target clears its sources' timers too", async () => {
    const { s } = schedule(async () => true);
    await s.observeSources(target, [poll]);
    expect((await s.list()).map((t) => t.id)).toEqual([timerId(target.key, poll.subject)]);
    await s.forget(target.key);
    expect(await s.list()).toEqual([]);
    await s.close();
  });
});
