// The metrics API on its own (no harness): what a run, a queue, GitHub and Kubernetes requests turn into, read
// back from the registry's exposition text the way Prometheus would read it.
import { describe, expect, it, test } from "vitest";
import { kubeVerb } from "../../src/cluster/kube-client.js";
import { FLUX_DURATION_BUCKETS, GitOpsMetrics, githubRouteClass } from "../../src/metrics/index.js";
import { InMemoryQueue } from "../../src/queue/in-memory-queue.js";
import type { KustomizationResult, RunResult } from "../../src/reconcile/result.js";

function kustomization(
  name: string,
  status: KustomizationResult["status"],
  extra: Partial<KustomizationResult> = {},
) {
  return {
    name,
    namespace: "apps",
    path: `./${name}`,
    file: `clusters/dev/${name}.yaml`,
    status,
    message: "",
    changes: [],
    errors: status === "Failed" ? [`ConfigMap/apps/${name}: invalid`] : [],
    unhealthy: [],
    notApplied: [],
    durationMs: 1500,
    ...extra,
  } satisfies KustomizationResult;
}

function run(kustomizations: KustomizationResult[], dryRun = false): RunResult {
  return { clusterPath: "clusters/dev", dryRun, kustomizations, errors: [], durationMs: 2000 };
}

/** The series of one metric in the exposition text, as `{labels} value` lines. */
async function series(metrics: GitOpsMetrics, name: string): Promise<string[]> {
  const text = await metrics.text();
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .map((line) => line.slice(name.length));
}

describe("Flux's series", () => {
  it("uses Flux's duration buckets: ten from 10 ms to 30 minutes", () => {
    expect(FLUX_DURATION_BUCKETS).toHaveLength(10);
    expect(FLUX_DURATION_BUCKETS[0]).toBeCloseTo(0.01);
    expect(FLUX_DURATION_BUCKETS[9]).toBeCloseTo(1800);
  });

  it("replaces an object's gotk_resource_info series when its revision changes, and drops objects that left Git", async () => {
    const metrics = new GitOpsMetrics({ defaultMetrics: false });
    const meta = { cluster: "dev", repository: "acme/fleet" };
    metrics.recordRun(run([kustomization("a", "Ready"), kustomization("b", "Failed")]), {
      ...meta,
      revision: "main@sha1:1111111111111111111111111111111111111111",
    });
    metrics.recordRun(run([kustomization("a", "Ready")]), {
      ...meta,
      revision: "main@sha1:2222222222222222222222222222222222222222",
    });
    const info = await series(metrics, "gotk_resource_info");
    expect(info).toHaveLength(1);
    expect(info[0]).toContain('name="a"');
    expect(info[0]).toContain('revision="main@sha1:2222222222222222222222222222222222222222"');
    expect(await series(metrics, "gotk_reconcile_condition")).toEqual([
      '{kind="Kustomization",name="a",namespace="apps",cluster="dev",type="Ready",status="True"} 1',
    ]);
  });

  it("keeps a suspended object's last readiness and revision, and records no reconcile for it", async () => {
    const metrics = new GitOpsMetrics({ defaultMetrics: false });
    const meta = { cluster: "dev", repository: "acme/fleet" };
    metrics.recordRun(run([kustomization("a", "Failed")]), { ...meta, revision: "main@sha1:abc" });
    metrics.recordRun(run([kustomization("a", "Suspended")]), meta);
    const [info] = await series(metrics, "gotk_resource_info");
    expect(info).toContain('ready="False"');
    expect(info).toContain('suspended="true"');
    expect(info).toContain('revision="main@sha1:abc"');
    expect(await series(metrics, "gotk_suspend_status")).toEqual([
      '{kind="Kustomization",name="a",namespace="apps",cluster="dev"} 1',
    ]);
    expect(await series(metrics, "gotk_reconcile_duration_seconds_count")).toEqual([
      '{kind="Kustomization",name="a",namespace="apps",cluster="dev"} 1',
    ]);
  });

  it("counts a dry run as a preview only: the cluster's state is not what a pull request would make it", async () => {
    const metrics = new GitOpsMetrics({ defaultMetrics: false });
    const changed = kustomization("a", "Ready", {
      changes: [
        { id: "apps_a__ConfigMap", subject: "ConfigMap/apps/a", apiVersion: "v1", action: "configured" },
      ],
    });
    metrics.recordRun(run([changed], true), { cluster: "dev", repository: "acme/fleet" });
    expect(await series(metrics, "gotk_resource_info")).toEqual([]);
    expect(await series(metrics, "gitops_bot_previews_total")).toEqual([
      '{cluster="dev",outcome="changes"} 1',
    ]);
  });
});

describe("bounded labels", () => {
  test.each([
    ["POST", "/repos/{owner}/{repo}/statuses/{sha}", "POST statuses"],
    ["GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs", "GET check-runs"],
    ["PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}", "PATCH check-runs"],
    ["POST", "/app/installations/{installation_id}/access_tokens", "POST access_tokens"],
    ["GET", "https://api.github.com/repos/o/r/tarball/0123abc?x=1", "GET tarball"],
  ])("GitHub %s %s is the route class %s", (method, url, expected) => {
    expect(githubRouteClass(method, url)).toBe(expected);
  });

  test.each([
    ["GET", "https://k/api/v1/namespaces/a/configmaps/b", "get"],
    ["GET", "https://k/api/v1/namespaces/a/configmaps?limit=500", "list"],
    ["PATCH", "https://k/api/v1/namespaces/a/configmaps/b?dryRun=All", "patch"],
    ["POST", "https://k/api/v1/namespaces", "create"],
    ["DELETE", "https://k/api/v1/namespaces/a", "delete"],
  ])("Kubernetes %s %s is the verb %s", (method, url, verb) => {
    expect(kubeVerb(method, url)).toBe(verb);
  });

  it("never puts free text in a label", async () => {
    const metrics = new GitOpsMetrics({ defaultMetrics: false });
    metrics.recordNotification("slack", "failed: connection refused by 10.0.0.1", "dev");
    metrics.recordImagePullRequest("opened #42 for acme/fleet");
    metrics.recordGitHubRequest({ route: "GET /repos/acme/fleet", status: 200 });
    expect(await series(metrics, "gitops_bot_notifications_total")).toEqual([
      '{cluster="dev",provider="slack",outcome="other"} 1',
    ]);
    expect(await series(metrics, "gitops_bot_image_pull_requests_total")).toEqual([
      '{cluster="",action="other"} 1',
    ]);
    expect(await series(metrics, "gitops_bot_github_requests_total")).toEqual([
      '{route="other",status="200"} 1',
    ]);
  });
});

describe("the work queue's series", () => {
  it("tracks depth, adds, waits and outcomes per job type through a real queue", async () => {
    const metrics = new GitOpsMetrics({ defaultMetrics: false });
    const release: (() => void)[] = [];
    const queue = new InMemoryQueue<{ type: string; fail?: boolean }>(
      {
        run: (job) =>
          new Promise<void>((resolve, reject) =>
            release.push(() => (job.fail ? reject(new Error("x")) : resolve())),
          ),
        failed: () => {},
      },
      { concurrency: 1 },
    );
    queue.observe(metrics.queueObserver((job) => ({ type: job.type, cluster: "dev" })));
    await queue.enqueue({ key: "a", supersedes: false, payload: { type: "reconcile" } });
    await queue.enqueue({ key: "b", supersedes: true, payload: { type: "reconcile", fail: true } });
    await queue.enqueue({ key: "b", supersedes: true, payload: { type: "reconcile", fail: true } });
    expect(await series(metrics, "workqueue_depth")).toEqual(['{name="reconcile",controller="reconcile"} 1']);
    while (release.length > 0 || queue.size.running > 0) {
      release.shift()?.();
      await new Promise((r) => setTimeout(r, 5));
    }
    await queue.idle();
    expect(await series(metrics, "workqueue_adds_total")).toEqual([
      '{name="reconcile",controller="reconcile"} 3',
    ]);
    expect(await series(metrics, "workqueue_depth")).toEqual(['{name="reconcile",controller="reconcile"} 0']);
    expect((await series(metrics, "gitops_bot_queue_jobs_total")).sort()).toEqual([
      '{type="reconcile",cluster="dev",outcome="failed"} 1',
      '{type="reconcile",cluster="dev",outcome="queued"} 3',
      '{type="reconcile",cluster="dev",outcome="succeeded"} 1',
      '{type="reconcile",cluster="dev",outcome="superseded"} 1',
    ]);
    expect(await series(metrics, "workqueue_work_duration_seconds_count")).toEqual([
      '{name="reconcile",controller="reconcile"} 2',
    ]);
  });

  it("a job the queue gave up on (lost too often) counts as failed, not in flight", async () => {
    const metrics = new GitOpsMetrics({ defaultMetrics: false });
    const observer = metrics.queueObserver((job: { type: string }) => ({ type: job.type, cluster: "dev" }));
    observer.enqueued({ type: "reconcile" });
    observer.started({ type: "reconcile" }, 10);
    observer.abandoned({ type: "reconcile" });
    expect(await series(metrics, "gitops_bot_queue_jobs_total")).toContain(
      '{type="reconcile",cluster="dev",outcome="failed"} 1',
    );
  });
});
