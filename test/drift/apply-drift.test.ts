// Drift in the apply, against the real API server: a live object changed by another field manager while Git
// stayed the same is found (fields, who changed them), corrected by default, left as it is in `report` mode (and
// found again next time), and never confused with a change in Git. Live objects annotated
// `kustomize.toolkit.fluxcd.io/reconcile: disabled` are left alone.
import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { type ApplyResult, applyAllStaged, DRIFT_LEFT_REASON } from "../../src/cluster/ssa/apply.js";
import {
  changedPaths,
  describeDrift,
  RECONCILE_ANNOTATION,
  renderPath,
} from "../../src/cluster/ssa/drift.js";
import { objectId } from "../../src/cluster/ssa/object-id.js";
import { operatorConfigSchema } from "../../src/config/operator-config.js";
import { createNamespace, PatchStrategy, testObjectApi, waitForWorkloads } from "../support/kube.js";

interface Deployment extends KubernetesObject {
  spec: {
    replicas: number;
    template: { spec: { containers: { name: string; image: string }[] } };
  };
}

function deployment(ns: string, replicas = 1): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "app", image: "registry.example/web:1.0" }] },
      },
    } as Deployment["spec"],
  };
}

/** What `kubectl edit` does: an update under its own field manager. */
async function editAs(api: RawObjectApi, manager: string, patch: KubernetesObject, strategic = false) {
  await api.patch(
    patch,
    undefined,
    undefined,
    manager,
    undefined,
    strategic ? PatchStrategy.StrategicMergePatch : PatchStrategy.MergePatch,
  );
}

async function liveDeployment(api: RawObjectApi, ns: string): Promise<Deployment> {
  return (await api.read({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: ns },
  })) as Deployment;
}

function entryOf(result: ApplyResult, subject: string) {
  const entry = result.changeSet.entries.find((e) => e.subject === subject);
  if (!entry) throw new Error(`no entry for ${subject}: ${JSON.stringify(result.changeSet.entries)}`);
  return entry;
}

const replicasEdit = (ns: string, replicas: number) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: ns },
  spec: { replicas },
});

describe("drift in the apply", () => {
  it("finds a field changed by kubectl-edit, names the manager and corrects it", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "drift");
    const first = await applyAllStaged(api, [deployment(ns)]);
    expect(first.errors).toEqual([]);
    await editAs(api, "kubectl-edit", replicasEdit(ns, 3));

    const second = await applyAllStaged(api, [deployment(ns)], { previous: first.fingerprints });
    const entry = entryOf(second, `Deployment/${ns}/web`);
    expect(entry.action).toBe("configured");
    expect(entry.drift).toMatchObject({
      fields: ["spec.replicas"],
      managers: [{ manager: "kubectl-edit", operation: "Update", time: expect.any(String) }],
      action: "corrected",
    });
    // The values are in the diff only (masked and scrubbed like every diff).
    expect(entry.diff).toMatch(/-\s+replicas: 3/);
    expect(entry.diff).toMatch(/\+\s+replicas: 1/);
    expect((await liveDeployment(api, ns)).spec.replicas).toBe(1);

    // Corrected: the next run finds nothing.
    const third = await applyAllStaged(api, [deployment(ns)], { previous: second.fingerprints });
    expect(entryOf(third, `Deployment/${ns}/web`).drift).toBeUndefined();
    expect(entryOf(third, `Deployment/${ns}/web`).action).toBe("unchanged");
  });

  it("names the manager of a changed list item found by its key (containers[name=app].image)", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "drift");
    const first = await applyAllStaged(api, [deployment(ns)]);
    await editAs(
      api,
      "hotfixer",
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: ns },
        spec: { template: { spec: { containers: [{ name: "app", image: "registry.example/web:hotfix" }] } } },
      } as KubernetesObject,
      true,
    );
    const second = await applyAllStaged(api, [deployment(ns)], { previous: first.fingerprints });
    const drift = entryOf(second, `Deployment/${ns}/web`).drift;
    expect(drift?.fields).toEqual(["spec.template.spec.containers[0].image"]);
    expect(drift?.managers.map((m) => m.manager)).toEqual(["hotfixer"]);
    expect(describeDrift(`Deployment/${ns}/web`, drift as NonNullable<typeof drift>)).toBe(
      `Deployment/${ns}/web: spec.template.spec.containers[0].image changed by hotfixer; corrected`,
    );
  });

  it("report mode leaves the drifted object as it is, keeps the old fingerprint and finds it again", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "drift");
    const first = await applyAllStaged(api, [deployment(ns)]);
    await editAs(api, "kubectl-edit", replicasEdit(ns, 4));
    const id = objectId(deployment(ns));

    const reported = await applyAllStaged(api, [deployment(ns)], {
      previous: first.fingerprints,
      drift: "report",
    });
    const entry = entryOf(reported, `Deployment/${ns}/web`);
    expect(entry.action).toBe("skipped");
    expect(entry.reason).toBe(DRIFT_LEFT_REASON);
    expect(entry.drift).toMatchObject({ fields: ["spec.replicas"], action: "left as it is" });
    expect(entry.drift?.managers[0]?.manager).toBe("kubectl-edit");
    expect((await liveDeployment(api, ns)).spec.replicas).toBe(4);
    expect(reported.fingerprints.get(id)).toEqual(first.fingerprints.get(id));

    const again = await applyAllStaged(api, [deployment(ns)], {
      previous: reported.fingerprints,
      drift: "report",
    });
    expect(entryOf(again, `Deployment/${ns}/web`).drift?.action).toBe("left as it is");
    expect((await liveDeployment(api, ns)).spec.replicas).toBe(4);

    // Switched to correct: put back.
    const corrected = await applyAllStaged(api, [deployment(ns)], { previous: again.fingerprints });
    expect(entryOf(corrected, `Deployment/${ns}/web`).drift?.action).toBe("corrected");
    expect((await liveDeployment(api, ns)).spec.replicas).toBe(1);
  });

  it("a change in Git is not drift, even where the cluster changed too", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "drift");
    const first = await applyAllStaged(api, [deployment(ns)]);
    await editAs(api, "kubectl-edit", replicasEdit(ns, 3));
    const changed = await applyAllStaged(api, [deployment(ns, 2)], {
      previous: first.fingerprints,
      drift: "report",
    });
    const entry = entryOf(changed, `Deployment/${ns}/web`);
    expect(entry.action).toBe("configured");
    expect(entry.drift).toBeUndefined();
    expect((await liveDeployment(api, ns)).spec.replicas).toBe(2);
  });

  it("a dry run (a pull request's preview) records no drift", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "drift");
    const first = await applyAllStaged(api, [deployment(ns)]);
    await editAs(api, "kubectl-edit", replicasEdit(ns, 3));
    const preview = await applyAllStaged(api, [deployment(ns)], {
      previous: first.fingerprints,
      dryRun: true,
      withDiff: true,
    });
    expect(entryOf(preview, `Deployment/${ns}/web`).drift).toBeUndefined();
  });

  it("leaves a live object annotated reconcile: disabled alone, edited or not", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "drift");
    const first = await applyAllStaged(api, [deployment(ns)]);
    await editAs(api, "kubectl-edit", {
      ...replicasEdit(ns, 5),
      metadata: { name: "web", namespace: ns, annotations: { [RECONCILE_ANNOTATION]: "disabled" } },
    });
    for (const mode of ["correct", "report"] as const) {
      const run = await applyAllStaged(api, [deployment(ns)], { previous: first.fingerprints, drift: mode });
      const entry = entryOf(run, `Deployment/${ns}/web`);
      expect(entry.action).toBe("skipped");
      expect(entry.reason).toBe(`${RECONCILE_ANNOTATION}: disabled`);
      expect(entry.drift).toBeUndefined();
    }
    expect((await liveDeployment(api, ns)).spec.replicas).toBe(5);
  });
});

/** Counts the dry-run PATCHes an api makes (the expensive step the fingerprint skips). */
function countingDryRuns(api: RawObjectApi): { api: RawObjectApi; dryRuns: () => number } {
  let n = 0;
  const patch = api.patch.bind(api);
  api.patch = ((obj: KubernetesObject, pretty?: string, dryRun?: string, ...rest: unknown[]) => {
    if (dryRun) n++;
    return (patch as (...a: unknown[]) => unknown)(obj, pretty, dryRun, ...rest);
  }) as typeof api.patch;
  return { api, dryRuns: () => n };
}

describe("controller bookkeeping is no drift", () => {
  it("the deployment controller's revision annotation does not send a Deployment through the dry-run again, an edit still does", async () => {
    const { api, dryRuns } = countingDryRuns(testObjectApi());
    const ns = await createNamespace(api, "bookkeeping");
    await waitForWorkloads(api, ns);
    const first = await applyAllStaged(api, [deployment(ns)]);
    expect(first.errors).toEqual([]);
    // kube-controller-manager annotates the rollout revision (an Update of its own) after the apply.
    const deadline = Date.now() + 60_000;
    while (!(await liveDeployment(api, ns)).metadata?.annotations?.["deployment.kubernetes.io/revision"]) {
      if (Date.now() > deadline) throw new Error("the deployment controller never annotated the revision");
      await new Promise((r) => setTimeout(r, 200));
    }
    const before = dryRuns();
    const second = await applyAllStaged(api, [deployment(ns)], { previous: first.fingerprints });
    expect(entryOf(second, `Deployment/${ns}/web`).action).toBe("unchanged");
    expect(dryRuns() - before).toBe(0);

    // A field the bot applies, changed by someone else: the dry-run runs and the drift is corrected.
    await editAs(api, "kubectl-edit", replicasEdit(ns, 4));
    const third = await applyAllStaged(api, [deployment(ns)], { previous: second.fingerprints });
    expect(dryRuns() - before).toBe(1);
    expect(entryOf(third, `Deployment/${ns}/web`)).toMatchObject({
      action: "configured",
      drift: { fields: ["spec.replicas"], action: "corrected" },
    });
    // So is an annotation of its own written over by another manager.
    const annotated = deployment(ns);
    annotated.metadata = { ...annotated.metadata, annotations: { team: "payments" } };
    const fourth = await applyAllStaged(api, [annotated], { previous: third.fingerprints });
    await editAs(api, "kubectl-edit", {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: ns, annotations: { team: "other" } },
    });
    const fifth = await applyAllStaged(api, [annotated], { previous: fourth.fingerprints });
    expect(entryOf(fifth, `Deployment/${ns}/web`).drift?.fields).toEqual(["metadata.annotations.team"]);
    expect((await liveDeployment(api, ns)).metadata?.annotations?.team).toBe("payments");
  });
});

describe("a revision annotation Git sets itself", () => {
  it.each([
    ["a Deployment", (ns: string) => deployment(ns)],
    [
      "a ConfigMap",
      (ns: string) =>
        ({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "web", namespace: ns },
          data: { a: "1" },
        }) as KubernetesObject,
    ],
  ])(
    "%s: another manager's change of it is not skipped by the fingerprint (the dry-run looks)",
    async (_, make) => {
      const { api, dryRuns } = countingDryRuns(testObjectApi());
      const ns = await createNamespace(api, "rev-in-git");
      const desired = make(ns);
      desired.metadata = { ...desired.metadata, annotations: { "deployment.kubernetes.io/revision": "7" } };
      const first = await applyAllStaged(api, [desired]);
      expect(first.errors).toEqual([]);
      await editAs(api, "intruder", {
        apiVersion: desired.apiVersion,
        kind: desired.kind,
        metadata: { name: "web", namespace: ns, annotations: { "deployment.kubernetes.io/revision": "666" } },
      } as KubernetesObject);
      const before = dryRuns();
      await applyAllStaged(api, [desired], { previous: first.fingerprints });
      // The bot applied that annotation, so its live hash keeps it: the change is looked at, not hidden. (What the
      // dry-run then says follows the diff's rules: that key is the deployment controller's and never shown.)
      expect(dryRuns() - before).toBe(1);
    },
  );
});

describe("drift paths", () => {
  it.each([
    [{ a: 1 }, { a: 2 }, ["a"]],
    [{ a: { b: [1, 2] } }, { a: { b: [1, 3] } }, ["a.b[1]"]],
    [{ a: [1] }, { a: [1, 2] }, ["a"]],
    [
      { metadata: { annotations: { "example.com/x": "1" } } },
      { metadata: { annotations: {} } },
      ['metadata.annotations["example.com/x"]'],
    ],
    [{ a: 1 }, { a: 1 }, []],
  ])("%j against %j differs at %j", (live, desired, paths) => {
    expect(changedPaths(live, desired).map(renderPath)).toEqual(paths);
  });
});

describe("operator drift option", () => {
  const cluster = { name: "dev", repositories: ["acme/app"] };
  it("defaults to correct, accepts report and refuses anything else naming the field", () => {
    expect(operatorConfigSchema.parse({ clusters: [cluster] }).clusters[0]?.drift).toBe("correct");
    expect(
      operatorConfigSchema.parse({ clusters: [{ ...cluster, drift: "report" }] }).clusters[0]?.drift,
    ).toBe("report");
    const refused = operatorConfigSchema.safeParse({ clusters: [{ ...cluster, drift: "fix" }] });
    expect(refused.success).toBe(false);
    expect(JSON.stringify(refused.error?.issues)).toContain("drift");
  });
});
