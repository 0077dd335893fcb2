// Health checks against real rollouts: kube-controller-manager, kube-scheduler and kwok make Deployments
// become Available (or not) as they would on a real cluster.
import { describe, expect, it } from "vitest";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { createNamespace, testObjectApi, uniqueName, waitForWorkloads } from "../support/kube.js";
import { fluxKustomization, makeRepo, writeTree } from "../support/repo-tree.js";

function deployment(name: string, opts: { nodeSelector?: string; app?: string } = {}): string {
  const app = opts.app ?? name;
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: 2
  selector:
    matchLabels: {app: ${app}}
  template:
    metadata:
      labels: {app: ${app}}
    spec:
      ${opts.nodeSelector ? `nodeSelector: {${opts.nodeSelector}}` : ""}
      containers:
      - name: web
        image: nginx:1.27
`;
}

describe("health checks", () => {
  it("waits until a Deployment is Available", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "health");
    await waitForWorkloads(api, ns);
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n  wait: true\n  timeout: 90s\n`,
      }),
      "apps/web.yaml": deployment("web"),
    });
    const run = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
    });
    const apps = run.kustomizations[0];
    expect(apps?.errors).toEqual([]);
    expect(apps?.status).toBe("Ready");
    const live = (await api.read({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: ns },
    })) as {
      status: { availableReplicas: number };
    };
    expect(live.status.availableReplicas).toBe(2);
  });

  it("fails with the object and reason when a Deployment cannot become ready in time", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "health");
    await waitForWorkloads(api, ns);
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n  healthChecks:\n  - apiVersion: apps/v1\n    kind: Deployment\n    name: stuck\n    namespace: ${ns}\n  timeout: 5s\n`,
      }),
      "apps/stuck.yaml": deployment("stuck", { nodeSelector: "no-such-node: 'true'" }),
    });
    const run = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
    });
    const apps = run.kustomizations[0];
    expect(apps?.status).toBe("Failed");
    expect(apps?.message).toMatch(
      new RegExp(
        `^health check failed: Deployment/${ns}/stuck is not ready: timeout after \\d+ s: (Available|Ready|Updated)`,
      ),
    );
    expect(apps?.unhealthy.map((u) => u.subject)).toEqual([`Deployment/${ns}/stuck`]);
  });

  it("recreates an object whose immutable field changed when force is set", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "force");
    const scope = uniqueName("scope");
    const files = (force: boolean) => ({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n  force: ${force}\n`,
      }),
    });
    const repo = makeRepo({ ...files(false), "apps/web.yaml": deployment("web", { app: "one" }) });
    const opts = { ...defaultReconcileOptions(repo, "clusters/dev"), scope, skipHealth: true };
    expect((await reconcileTree(api, opts)).kustomizations[0]?.status).toBe("Ready");

    // spec.selector is immutable: without force the apply is rejected, with force the object is recreated.
    writeTree(repo, { "apps/web.yaml": deployment("web", { app: "two" }) });
    const rejected = (await reconcileTree(api, opts)).kustomizations[0];
    expect(rejected?.status).toBe("Failed");
    expect(rejected?.message).toMatch(
      new RegExp(`^Deployment/${ns}/web dry-run failed: .*field is immutable`),
    );

    writeTree(repo, files(true));
    const forced = (await reconcileTree(api, opts)).kustomizations[0];
    expect(forced?.errors).toEqual([]);
    expect(forced?.changes[0]).toMatchObject({
      subject: `Deployment/${ns}/web`,
      action: "configured",
      reason: "recreated: an immutable field changed",
    });
    const live = (await api.read({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: ns },
    })) as {
      spec: { selector: { matchLabels: Record<string, string> } };
    };
    expect(live.spec.selector.matchLabels).toEqual({ app: "two" });
  });
});
