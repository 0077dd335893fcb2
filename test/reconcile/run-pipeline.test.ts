// The cold path's sharing and overlap against the real API server: the run's reads are shared across its
// Kustomizations (run-reads.ts) without weakening what each one is allowed to see, the dry-run guarantee holds
// per Kustomization, dependsOn still orders applies, and a Kustomization waiting for health frees its slot.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type RawObjectApi, setKubeRequestHook } from "../../src/cluster/kube-client.js";
import type { KustomizationResult, RunResult } from "../../src/reconcile/result.js";
import {
  defaultReconcileOptions,
  type ProgressEvent,
  type ReconcileOptions,
  reconcileTree,
} from "../../src/reconcile/run.js";
import { createNamespace, exists, PatchStrategy, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

function run(api: RawObjectApi, repo: string, scope: string, overrides: Partial<ReconcileOptions> = {}) {
  return reconcileTree(api, { ...defaultReconcileOptions(repo, "clusters/dev"), scope, ...overrides });
}

function ks(result: RunResult, name: string): KustomizationResult {
  const found = result.kustomizations.find((k) => k.name === name);
  if (!found) throw new Error(`no result for ${name}: ${JSON.stringify(result, null, 2)}`);
  return found;
}

/** `count` Kustomizations app-<i> in `ns`, each of four ConfigMaps in `target`. */
function apps(ns: string, target: string, count: number, extra = ""): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    files[`clusters/dev/app-${i}.yaml`] = fluxKustomization({
      name: `app-${i}`,
      namespace: ns,
      path: `./apps/app-${i}`,
      extra: `  targetNamespace: ${target}\n${extra}`,
    });
    for (let j = 0; j < 4; j++)
      files[`apps/app-${i}/cm-${j}.yaml`] = configMap(`app-${i}-${j}`, { j: `${j}` });
  }
  return files;
}

afterEach(() => setKubeRequestHook(undefined));

describe("run-level reads", () => {
  it("reads each namespace's inventories and live objects once for the run, and still finds what changed since", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "pipeline");
    const repo = makeRepo(apps(ns, ns, 6));
    const scope = uniqueName("scope");
    const requests: Record<string, number> = {};
    setKubeRequestHook((e) => {
      requests[e.verb] = (requests[e.verb] ?? 0) + 1;
    });
    const cold = await run(api, repo, scope);
    setKubeRequestHook(undefined);
    expect(cold.errors).toEqual([]);
    expect(cold.kustomizations.map((k) => k.status)).toEqual(Array(6).fill("Ready"));
    // 24 ConfigMaps: a dry-run and an apply each, plus one inventory write per Kustomization; the live
    // ConfigMaps, the inventories and Flux's Kustomizations are listed (not read one by one).
    expect(requests.patch).toBe(24 * 2 + 6);
    expect(requests.get ?? 0).toBeLessThanOrEqual(2);
    // (the suspension marks, the inventories, Flux's Kustomizations, the ConfigMaps, the prune check; API
    // discovery may add one)
    expect(requests.list ?? 0).toBeLessThanOrEqual(8);

    // Another manager edits one object and deletes another between runs: the next run's shared reads see it.
    await api.patch(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "app-3-1", namespace: ns },
        data: { j: "edited" },
      },
      undefined,
      undefined,
      "someone-else",
      true,
      PatchStrategy.ServerSideApply,
    );
    await api.delete({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "app-4-2", namespace: ns } });
    const again = await run(api, repo, scope);
    expect(again.errors).toEqual([]);
    const action = (k: string, subject: string) =>
      ks(again, k).changes.find((c) => c.subject === subject)?.action;
    expect(action("app-3", `ConfigMap/${ns}/app-3-1`)).toBe("configured");
    expect(action("app-4", `ConfigMap/${ns}/app-4-2`)).toBe("created");
    expect(action("app-0", `ConfigMap/${ns}/app-0-0`)).toBe("unchanged");
    const live = (await api.read({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "app-3-1", namespace: ns },
    })) as { data: Record<string, string> };
    expect(live.data.j).toBe("1");

    // Nothing changed since: nothing is written, not even the inventories, and nothing is read one by one.
    for (const verb of Object.keys(requests)) delete requests[verb];
    setKubeRequestHook((e) => {
      requests[e.verb] = (requests[e.verb] ?? 0) + 1;
    });
    const noop = await run(api, repo, scope);
    setKubeRequestHook(undefined);
    expect(noop.kustomizations.map((k) => k.status)).toEqual(Array(6).fill("Ready"));
    expect(requests.patch ?? 0).toBe(0);
    expect(requests.get ?? 0).toBeLessThanOrEqual(2);
  });

  it("never shares what one identity listed with a Kustomization acting as another", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "pipeline");
    // A ServiceAccount that may write ConfigMaps but not read them: it must not see the bot's LIST.
    await api.create({
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "writer", namespace: ns },
    });
    await api.create({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "writer", namespace: ns },
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["create", "patch", "update"] }],
    } as Parameters<RawObjectApi["create"]>[0]);
    await api.create({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "writer", namespace: ns },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "writer" },
      subjects: [{ kind: "ServiceAccount", name: "writer", namespace: ns }],
    } as Parameters<RawObjectApi["create"]>[0]);
    const files = apps(ns, ns, 2);
    files["clusters/dev/tenant.yaml"] = fluxKustomization({
      name: "tenant",
      namespace: ns,
      path: "./tenant",
      extra: `  targetNamespace: ${ns}\n  serviceAccountName: writer\n`,
    });
    for (let j = 0; j < 4; j++) files[`tenant/cm-${j}.yaml`] = configMap(`tenant-${j}`, { j: `${j}` });
    const result = await run(api, makeRepo(files), uniqueName("scope"));
    expect(ks(result, "app-0").status).toBe("Ready");
    expect(ks(result, "app-1").status).toBe("Ready");
    const tenant = ks(result, "tenant");
    expect(tenant.status).toBe("Failed");
    expect(tenant.message).toMatch(/ConfigMap\/.*tenant-\d get failed: .*forbidden/);
    for (let j = 0; j < 4; j++) expect(await exists(api, "v1", "ConfigMap", `tenant-${j}`, ns)).toBe(false);
  });
});

describe("dry-run guarantee and ordering", () => {
  it("a Kustomization whose dry-run fails applies nothing of itself, while independent ones apply", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "pipeline");
    const files = apps(ns, ns, 3);
    // app-1's fourth object is refused by the API server's validation.
    files["apps/app-1/cm-3.yaml"] =
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n    - port: 99999\n`;
    const result = await run(api, makeRepo(files), uniqueName("scope"));
    expect(ks(result, "app-0").status).toBe("Ready");
    expect(ks(result, "app-2").status).toBe("Ready");
    const failed = ks(result, "app-1");
    expect(failed.status).toBe("Failed");
    expect(failed.message).toMatch(new RegExp(`Service/${ns}/bad dry-run failed`));
    for (let j = 0; j < 3; j++) expect(await exists(api, "v1", "ConfigMap", `app-1-${j}`, ns)).toBe(false);
    for (let j = 0; j < 4; j++) {
      expect(await exists(api, "v1", "ConfigMap", `app-0-${j}`, ns)).toBe(true);
      expect(await exists(api, "v1", "ConfigMap", `app-2-${j}`, ns)).toBe(true);
    }
  });

  it("applies a Kustomization only after what it dependsOn is Ready, and nothing of it when that failed", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "pipeline");
    const files = apps(ns, ns, 6);
    // app-5 -> app-4 -> app-0; app-2 depends on app-1, which fails its dry-run.
    const depends = (name: string) => `  dependsOn:\n    - name: ${name}\n`;
    files["clusters/dev/app-5.yaml"] += depends("app-4");
    files["clusters/dev/app-4.yaml"] += depends("app-0");
    files["clusters/dev/app-2.yaml"] += depends("app-1");
    files["apps/app-1/cm-3.yaml"] =
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n    - port: 99999\n`;
    const events: ProgressEvent[] = [];
    const result = await run(api, makeRepo(files), uniqueName("scope"), {
      onProgress: (e) => events.push(e),
    });
    const at = (type: ProgressEvent["type"], name: string) =>
      events.findIndex((e) => e.type === type && "kustomization" in e && e.kustomization === `${ns}/${name}`);
    expect(at("finished", "app-0")).toBeLessThan(at("started", "app-4"));
    expect(at("finished", "app-4")).toBeLessThan(at("started", "app-5"));
    expect(ks(result, "app-5").status).toBe("Ready");
    expect(ks(result, "app-1").status).toBe("Failed");
    expect(ks(result, "app-2").status).toBe("DependencyNotReady");
    expect(at("started", "app-2")).toBe(-1);
    for (let j = 0; j < 4; j++) expect(await exists(api, "v1", "ConfigMap", `app-2-${j}`, ns)).toBe(false);
  });

  it("a Kustomization waiting for health frees its slot: others are applied meanwhile", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "pipeline");
    const files = apps(ns, ns, 3);
    // app-0 health-checks a ConfigMap nobody creates: it waits until its timeout.
    files["clusters/dev/app-0.yaml"] = fluxKustomization({
      name: "app-0",
      namespace: ns,
      path: "./apps/app-0",
      extra: `  targetNamespace: ${ns}\n  timeout: 8s\n  healthChecks:\n    - apiVersion: v1\n      kind: ConfigMap\n      name: never-there\n      namespace: ${ns}\n`,
    });
    const events: ProgressEvent[] = [];
    const result = await run(api, makeRepo(files), uniqueName("scope"), {
      concurrency: 1,
      onProgress: (e) => events.push(e),
    });
    expect(ks(result, "app-0").status).toBe("Failed");
    expect(ks(result, "app-1").status).toBe("Ready");
    expect(ks(result, "app-2").status).toBe("Ready");
    // With one slot, app-1 and app-2 were applied while app-0 waited, not after its timeout.
    const finished0 = events.findIndex((e) => e.type === "finished" && e.kustomization === `${ns}/app-0`);
    for (const name of ["app-1", "app-2"]) {
      const applied = events.findIndex((e) => e.type === "applied" && e.kustomization === `${ns}/${name}`);
      expect(applied).toBeGreaterThan(-1);
      expect(applied).toBeLessThan(finished0);
    }
  }, 60_000);
});

/**
 * The real kustomize behind a wrapper that takes `seconds` longer to build any overlay naming `slowPath`
 * (the overlay's kustomization.yaml lists the path it builds).
 */
function slowKustomize(slowPath: string, seconds: number): { binary: string; restore(): void } {
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-slow-kustomize-"));
  const real = process.env.GITOPS_BOT_KUSTOMIZE ?? "kustomize";
  const binary = join(dir, "kustomize");
  writeFileSync(
    binary,
    `#!/bin/sh\nfor last; do :; done\nif grep -q '${slowPath}' "$last/kustomization.yaml" 2>/dev/null; then sleep ${seconds}; fi\nexec '${real}' "$@"\n`,
  );
  chmodSync(binary, 0o755);
  const before = process.env.GITOPS_BOT_KUSTOMIZE;
  process.env.GITOPS_BOT_KUSTOMIZE = binary;
  return {
    binary,
    restore: () => {
      if (before === undefined) delete process.env.GITOPS_BOT_KUSTOMIZE;
      else process.env.GITOPS_BOT_KUSTOMIZE = before;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe("applying while the tree is still being built", () => {
  it("applies a Kustomization that depends on nothing as soon as it is built; its events follow the plan's", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "pipeline");
    const files = apps(ns, ns, 3);
    // app-2 depends on app-0: it waits for the whole plan, then for app-0.
    files["clusters/dev/app-2.yaml"] += "  dependsOn:\n    - name: app-0\n";
    const slow = slowKustomize("apps/app-1", 2);
    const progress: Array<{ e: ProgressEvent; at: number }> = [];
    const runEvents: string[] = [];
    const requests: Record<string, number> = {};
    setKubeRequestHook((e) => {
      requests[e.verb] = (requests[e.verb] ?? 0) + 1;
    });
    let result: RunResult;
    try {
      result = await run(api, makeRepo(files), uniqueName("scope"), {
        onProgress: (e) => progress.push({ e, at: Date.now() }),
        onEvent: (e) => runEvents.push(e.type === "object-finished" ? `finished ${e.subject}` : e.type),
      });
    } finally {
      slow.restore();
      setKubeRequestHook(undefined);
    }
    expect(result.errors).toEqual([]);
    // No object is read one by one: the run-wide LISTs serve the Kustomizations built after them too (how a LIST
    // answers later demand: test/cluster/live-lists.test.ts). 6 or 7 LISTs, as timing has it; 12 ConfigMaps
    // read apart would be 12 GETs.
    expect(requests.list ?? 0).toBeLessThanOrEqual(8);
    expect(requests.get ?? 0).toBeLessThanOrEqual(2);
    expect(result.kustomizations.map((k) => [k.name, k.status])).toEqual([
      ["app-0", "Ready"],
      ["app-1", "Ready"],
      ["app-2", "Ready"],
    ]);
    const index = (type: ProgressEvent["type"], name?: string) =>
      progress.findIndex(
        (p) =>
          p.e.type === type &&
          (name === undefined || ("kustomization" in p.e && p.e.kustomization === `${ns}/${name}`)),
      );
    const planned = index("planned");
    // app-0 was applied while app-1 was still building (its build takes 2 s longer) ...
    expect(index("applied", "app-0")).toBeGreaterThan(-1);
    expect(index("applied", "app-0")).toBeLessThan(planned);
    expect(progress[planned]?.at ?? 0).toBeGreaterThanOrEqual(progress[index("applied", "app-0")]?.at ?? 0);
    // ... app-1 once built, and app-2, which depends on app-0, only once the whole tree was planned.
    expect(index("started", "app-2")).toBeGreaterThan(planned);
    // Reporters see the plan first, then every object's events, app-0's included.
    expect(runEvents[0]).toBe("planned");
    expect(runEvents.filter((e) => e.startsWith("finished "))).toHaveLength(3);
    for (let j = 0; j < 4; j++) expect(await exists(api, "v1", "ConfigMap", `app-1-${j}`, ns)).toBe(true);
  }, 60_000);

  it("a preview waits for the whole plan before it dry-runs anything", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "pipeline");
    const slow = slowKustomize("apps/app-1", 2);
    const progress: ProgressEvent[] = [];
    try {
      const result = await run(api, makeRepo(apps(ns, ns, 2)), uniqueName("scope"), {
        dryRun: true,
        onProgress: (e) => progress.push(e),
      });
      expect(result.kustomizations.map((k) => k.status)).toEqual(["Ready", "Ready"]);
    } finally {
      slow.restore();
    }
    const planned = progress.findIndex((e) => e.type === "planned");
    const firstStarted = progress.findIndex((e) => e.type === "started");
    expect(planned).toBeGreaterThan(-1);
    expect(firstStarted).toBeGreaterThan(planned);
    for (let j = 0; j < 4; j++) expect(await exists(api, "v1", "ConfigMap", `app-0-${j}`, ns)).toBe(false);
  }, 60_000);
});
