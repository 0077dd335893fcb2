// HelmReleases end to end: a real Helm HTTP repository (helm package + helm repo index, served over HTTP),
// the real helm binary, the real API server. Each test has its own namespace, scope and release names.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { decodeRelease, encodeRelease } from "../../src/helm/storage.js";
import type { HelmReleaseResult, KustomizationResult, RunResult } from "../../src/reconcile/result.js";
import { runHasChanges, runSucceeded } from "../../src/reconcile/result.js";
import { defaultReconcileOptions, type ReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { commitFiles, createGitRepo } from "../support/git-server.js";
import {
  defaultValues,
  type HelmRepoServer,
  helm,
  helmReleaseYaml,
  helmRepositoryYaml,
  startHelmRepo,
  writeChart,
} from "../support/helm-repo.js";
import {
  createNamespace,
  exists,
  PatchStrategy,
  testKubeConfig,
  testObjectApi,
  uniqueName,
} from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo, writeTree } from "../support/repo-tree.js";

let charts: HelmRepoServer;
const cacheDir = mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-"));

beforeAll(async () => {
  charts = await startHelmRepo();
  await charts.addChart({ name: "demo", version: "0.1.0" });
  await charts.addChart({ name: "demo", version: "0.2.0" });
});
afterAll(() => charts?.stop());

interface Fixture {
  api: RawObjectApi;
  ns: string;
  repo: string;
  run(overrides?: Partial<ReconcileOptions>): Promise<RunResult>;
  write(files: Record<string, string | null>): void;
}

async function fixture(files: (ns: string) => Record<string, string>): Promise<Fixture> {
  const api = testObjectApi();
  const ns = await createNamespace(api, "helm");
  const repo = makeRepo(files(ns));
  const scope = uniqueName("scope");
  return {
    api,
    ns,
    repo,
    write: (changes) => writeTree(repo, changes),
    run: (overrides = {}) =>
      reconcileTree(api, {
        ...defaultReconcileOptions(repo, "clusters/dev"),
        kubeConfig: testKubeConfig(),
        scope,
        cacheDir,
        ...overrides,
      }),
  };
}

function release(run: RunResult, name: string): HelmReleaseResult {
  const found = run.helmReleases?.find((h) => h.name === name);
  if (!found) throw new Error(`no HelmRelease result for ${name}: ${JSON.stringify(run, null, 2)}`);
  return found;
}

function kustomization(run: RunResult, name: string): KustomizationResult {
  const found = run.kustomizations.find((k) => k.name === name);
  if (!found) throw new Error(`no result for ${name}: ${JSON.stringify(run, null, 2)}`);
  return found;
}

async function configData(api: RawObjectApi, ns: string, name: string): Promise<Record<string, string>> {
  const cm = (await api.read({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns } })) as {
    data?: Record<string, string>;
  };
  return cm.data ?? {};
}

async function helmHistory(ns: string, name: string): Promise<{ revision: number; status: string }[]> {
  return JSON.parse(await helm(["history", name, "-n", ns, "-o", "json"], inject("kubeconfigPath")));
}

const repoFile = (ns: string) => helmRepositoryYaml("charts", ns, charts.url);

describe("HelmRelease", () => {
  it("installs, leaves an up-to-date release alone, upgrades on values and version, uninstalls when removed from Git", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/charts.yaml": repoFile(ns),
      "clusters/dev/app.yaml": helmReleaseYaml({ name: "app", namespace: ns, version: "0.1.x" }),
    }));

    const first = await f.run();
    expect(first.errors).toEqual([]);
    expect(release(first, "app")).toMatchObject({
      status: "Ready",
      action: "installed",
      chart: "demo",
      version: "0.1.0",
      revision: 1,
      releaseName: "app",
      releaseNamespace: f.ns,
    });
    expect(release(first, "app").source).toMatch(/^HelmRepository\/.+\/charts@sha256:[0-9a-f]{64}$/);
    expect(await configData(f.api, f.ns, "app-config")).toMatchObject({
      color: "blue",
      chartVersion: "0.1.0",
    });
    // Standard Helm storage: helm itself sees the release.
    const listed = JSON.parse(await helm(["list", "-n", f.ns, "-o", "json"], inject("kubeconfigPath")));
    expect(listed).toMatchObject([{ name: "app", status: "deployed", chart: "demo-0.1.0" }]);

    const second = await f.run();
    expect(release(second, "app")).toMatchObject({ status: "Ready", action: "unchanged", revision: 1 });
    expect(runHasChanges(second)).toBe(false);

    f.write({
      "clusters/dev/app.yaml": helmReleaseYaml({
        name: "app",
        namespace: f.ns,
        version: "0.1.x",
        extra: "  values:\n    color: red\n",
      }),
    });
    const preview = await f.run({ dryRun: true, withDiff: true });
    expect(release(preview, "app").action).toBe("upgraded");
    const change = release(preview, "app").changes.find((c) => c.subject === `ConfigMap/${f.ns}/app-config`);
    expect(change?.action).toBe("configured");
    expect(change?.diff).toContain("-  color: blue\n+  color: red");
    expect((await configData(f.api, f.ns, "app-config")).color).toBe("blue");

    const third = await f.run();
    expect(release(third, "app")).toMatchObject({ action: "upgraded", revision: 2, status: "Ready" });
    expect((await configData(f.api, f.ns, "app-config")).color).toBe("red");

    f.write({
      "clusters/dev/app.yaml": helmReleaseYaml({
        name: "app",
        namespace: f.ns,
        version: ">=0.2.0",
        extra: "  values:\n    color: red\n",
      }),
    });
    const fourth = await f.run();
    expect(release(fourth, "app")).toMatchObject({ action: "upgraded", version: "0.2.0", revision: 3 });
    expect((await configData(f.api, f.ns, "app-config")).chartVersion).toBe("0.2.0");

    f.write({ "clusters/dev/app.yaml": null });
    const fifth = await f.run();
    expect(release(fifth, "app")).toMatchObject({ action: "uninstalled", status: "Ready" });
    expect(await exists(f.api, "v1", "ConfigMap", "app-config", f.ns)).toBe(false);
    expect(JSON.parse(await helm(["list", "-n", f.ns, "-o", "json"], inject("kubeconfigPath")))).toEqual([]);
    expect((await f.run()).helmReleases).toBeUndefined();
  }, 240_000);

  it("composes valuesFrom ConfigMaps and Secrets and never shows the Secret values", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/charts.yaml": repoFile(ns),
      "clusters/dev/app.yaml": helmReleaseYaml({
        name: "vals",
        namespace: ns,
        extra: `  valuesFrom:
    - kind: ConfigMap
      name: app-values
    - kind: Secret
      name: app-secret
      valuesKey: password
      targetPath: password
    - kind: ConfigMap
      name: not-there
      optional: true
  values:
    extra:
      b: 2
`,
      }),
    }));
    await f.api.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "app-values", namespace: f.ns },
      data: { "values.yaml": "color: green\nextra:\n  a: 1\n" },
    });
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "app-secret", namespace: f.ns },
      stringData: { password: "hunter2-first" },
    };
    await f.api.create(secret);
    const first = await f.run();
    expect(release(first, "vals")).toMatchObject({ status: "Ready", action: "installed", version: "0.2.0" });
    expect(await configData(f.api, f.ns, "vals-config")).toMatchObject({
      color: "green",
      password: "hunter2-first",
      extra: '{"a":1,"b":2}',
    });

    await f.api.patch({ ...secret, stringData: { password: "hunter2-second" } });
    const preview = await f.run({ dryRun: true, withDiff: true });
    expect(release(preview, "vals").action).toBe("upgraded");
    const text = JSON.stringify(preview);
    expect(text).toContain("password");
    expect(text).not.toContain("hunter2");

    await f.api.delete({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "app-values", namespace: f.ns },
    });
    const failed = await f.run();
    expect(release(failed, "vals").status).toBe("Failed");
    expect(release(failed, "vals").message).toContain(
      `spec.valuesFrom[0]: ConfigMap/${f.ns}/app-values: not found`,
    );
    expect(runSucceeded(failed)).toBe(false);
  }, 120_000);

  it("rolls back a failed upgrade as upgrade.remediation says and reports why", async () => {
    const hr = (ns: string, values: string) =>
      helmReleaseYaml({
        name: "remedy",
        namespace: ns,
        version: "0.1.0",
        extra: `  upgrade:
    remediation:
      retries: 1
  values:
${values}`,
      });
    const f = await fixture((ns) => ({
      "clusters/dev/charts.yaml": repoFile(ns),
      "clusters/dev/app.yaml": hr(ns, "    color: blue\n"),
    }));
    expect(release(await f.run(), "remedy").action).toBe("installed");

    // An invalid label value: the API server rejects the ConfigMap, so helm records a failed revision.
    f.write({ "clusters/dev/app.yaml": hr(f.ns, "    color: red\n    badLabel: 'not a valid label!'\n") });
    const failed = await f.run();
    const result = release(failed, "remedy");
    expect(result.status).toBe("Failed");
    expect(result.action).toBe("rolled back");
    expect(result.message).toMatch(
      /^upgrade failed: .*\(rolled back to revision \d+\); upgrade retries exhausted after 2 attempts$/,
    );
    expect(result.errors.filter((e) => e.startsWith("upgrade failed"))).toHaveLength(2);
    expect(result.remediation).toEqual({
      installFailures: 0,
      upgradeFailures: 2,
      retriesExhausted: "upgrade",
    });
    expect((await configData(f.api, f.ns, "remedy-config")).color).toBe("blue");
    const history = await helmHistory(f.ns, "remedy");
    expect(history.at(-1)?.status).toBe("deployed");
    expect(history.filter((h) => h.status === "failed").length).toBeGreaterThanOrEqual(1);

    // The next runs (a timer, another replica, after a restart) count on: no third attempt for the same state.
    const stalled = release(await f.run(), "remedy");
    expect(stalled).toMatchObject({ status: "Failed", action: "none" });
    expect(stalled.message).toMatch(
      /^upgrade retries exhausted: failed 2 times \(spec\.upgrade\.remediation\.retries: 1\); not retried until the HelmRelease, its chart or its values change; last failure: upgrade failed: /,
    );
    expect(stalled.remediation?.retriesExhausted).toBe("upgrade");
    expect(await helmHistory(f.ns, "remedy")).toEqual(history);

    // Back to what the rollback restored: in sync, and the count is void; the broken state later is tried anew.
    f.write({ "clusters/dev/app.yaml": hr(f.ns, "    color: blue\n") });
    expect(release(await f.run(), "remedy")).toMatchObject({ status: "Ready", action: "unchanged" });
    expect(await exists(f.api, "v1", "Secret", "gitops-bot.helm-remediation.remedy", f.ns)).toBe(false);
    f.write({ "clusters/dev/app.yaml": hr(f.ns, "    color: red\n    badLabel: 'not a valid label!'\n") });
    const retried = release(await f.run(), "remedy");
    expect(retried.errors.filter((e) => e.startsWith("upgrade failed"))).toHaveLength(2);

    f.write({ "clusters/dev/app.yaml": hr(f.ns, "    color: green\n") });
    const fixed = await f.run();
    expect(release(fixed, "remedy")).toMatchObject({ status: "Ready", action: "upgraded" });
    expect((await configData(f.api, f.ns, "remedy-config")).color).toBe("green");
  }, 180_000);

  it("remediates a failed upgrade by uninstalling (strategy: uninstall), then counts the install that follows", async () => {
    const hr = (ns: string, values: string) =>
      helmReleaseYaml({
        name: "wipe",
        namespace: ns,
        version: "0.1.0",
        extra: `  upgrade:
    remediation:
      retries: 1
      strategy: uninstall
  values:
${values}`,
      });
    const f = await fixture((ns) => ({
      "clusters/dev/charts.yaml": repoFile(ns),
      "clusters/dev/app.yaml": hr(ns, "    color: blue\n"),
    }));
    expect(release(await f.run(), "wipe").action).toBe("installed");
    f.write({ "clusters/dev/app.yaml": hr(f.ns, "    badLabel: 'not valid!'\n") });
    const failed = release(await f.run(), "wipe");
    expect(failed.status).toBe("Failed");
    expect(failed.errors.filter((e) => e.startsWith("upgrade failed"))).toHaveLength(1);
    expect(failed.errors.filter((e) => e.startsWith("install failed"))).toHaveLength(1);
    expect(failed.message).toMatch(/^install failed: .*; install retries exhausted after 1 attempt$/);
    expect(failed.remediation).toEqual({
      installFailures: 1,
      upgradeFailures: 1,
      retriesExhausted: "install",
    });
    const stalled = release(await f.run(), "wipe");
    expect(stalled.message).toMatch(/^install retries exhausted: failed 1 time/);
    expect(stalled.errors.filter((e) => / failed: /.test(e) && !e.startsWith("install retries"))).toEqual([]);
  }, 180_000);

  it("leaves a failed install as helm left it without remediation, and installs again once fixed", async () => {
    const hr = (ns: string, values: string) =>
      helmReleaseYaml({ name: "broken", namespace: ns, version: "0.1.0", extra: `  values:\n${values}` });
    const f = await fixture((ns) => ({
      "clusters/dev/charts.yaml": repoFile(ns),
      "clusters/dev/app.yaml": hr(ns, "    badLabel: 'not valid!'\n"),
    }));
    const failed = release(await f.run(), "broken");
    expect(failed.status).toBe("Failed");
    expect(failed.message).toMatch(/^install failed: .*; install retries exhausted after 1 attempt$/);
    expect((await helmHistory(f.ns, "broken")).at(-1)?.status).toBe("failed");
    // Flux's default (install.remediation.retries 0): no second attempt until the HelmRelease changes.
    const stalled = release(await f.run(), "broken");
    expect(stalled.message).toMatch(
      /^install retries exhausted: failed 1 time \(spec\.install\.remediation\.retries: 0\)/,
    );
    expect(await helmHistory(f.ns, "broken")).toHaveLength(1);

    f.write({ "clusters/dev/app.yaml": hr(f.ns, "    color: fixed\n") });
    const fixed = release(await f.run(), "broken");
    expect(fixed).toMatchObject({ status: "Ready", action: "installed" });
    expect((await configData(f.api, f.ns, "broken-config")).color).toBe("fixed");
  }, 120_000);

  it("retries a failed install as install.remediation says, uninstalls after the last failure, and counts across runs", async () => {
    const hr = (ns: string, color: string) =>
      helmReleaseYaml({
        name: "retry",
        namespace: ns,
        version: "0.1.0",
        extra: `  install:\n    remediation:\n      retries: 1\n      remediateLastFailure: true\n  values:\n    color: ${color}\n    badLabel: 'not valid!'\n`,
      });
    const f = await fixture((ns) => ({
      "clusters/dev/charts.yaml": repoFile(ns),
      "clusters/dev/app.yaml": hr(ns, "a"),
    }));
    const failed = release(await f.run(), "retry");
    expect(failed.status).toBe("Failed");
    expect(failed.action).toBe("uninstalled");
    expect(failed.message).toMatch(
      /^install failed: .*\(uninstalled\); install retries exhausted after 2 attempts$/,
    );
    expect(failed.errors.filter((e) => e.startsWith("install failed"))).toHaveLength(2);
    expect(failed.remediation).toEqual({
      installFailures: 2,
      upgradeFailures: 0,
      retriesExhausted: "install",
    });
    expect(JSON.parse(await helm(["list", "-n", f.ns, "-o", "json"], inject("kubeconfigPath")))).toEqual([]);
    // The count is in the cluster, beside Helm's storage, for every later run and replica.
    const stored = (await f.api.read({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "gitops-bot.helm-remediation.retry", namespace: f.ns },
    })) as { type?: string; data?: Record<string, string> };
    expect(stored.type).toBe("gitops-bot.dev/helm-remediation");
    expect(JSON.parse(Buffer.from(stored.data?.state ?? "", "base64").toString())).toMatchObject({
      installFailures: 2,
      upgradeFailures: 0,
    });

    const stalled = release(await f.run(), "retry");
    expect(stalled).toMatchObject({ status: "Failed", action: "none" });
    expect(stalled.message).toMatch(/^install retries exhausted: failed 2 times/);
    expect(stalled.errors.filter((e) => e.startsWith("install failed"))).toHaveLength(0);

    // A new desired state starts the count over.
    f.write({ "clusters/dev/app.yaml": hr(f.ns, "b") });
    const again = release(await f.run(), "retry");
    expect(again.message).toMatch(/install retries exhausted after 2 attempts$/);
    expect(again.errors.filter((e) => e.startsWith("install failed"))).toHaveLength(2);

    // A HelmRelease that leaves Git leaves no count behind.
    f.write({ "clusters/dev/app.yaml": null });
    await f.run();
    expect(await exists(f.api, "v1", "Secret", "gitops-bot.helm-remediation.retry", f.ns)).toBe(false);
  }, 180_000);

  it("corrects drift when driftDetection is enabled, only reports it in warn mode, and honours ignore", async () => {
    const hr = (ns: string, name: string, drift: string) =>
      helmReleaseYaml({ name, namespace: ns, version: "0.1.0", extra: `  driftDetection:\n${drift}` });
    const f = await fixture((ns) => ({
      "clusters/dev/charts.yaml": repoFile(ns),
      "clusters/dev/fix.yaml": hr(ns, "fix", "    mode: enabled\n"),
      "clusters/dev/warn.yaml": hr(ns, "warn", "    mode: warn\n"),
      "clusters/dev/ignore.yaml": hr(
        ns,
        "ignore",
        "    mode: enabled\n    ignore:\n      - paths: ['/data/color']\n        target:\n          kind: ConfigMap\n",
      ),
    }));
    const first = await f.run();
    expect(first.helmReleases?.map((h) => h.action)).toEqual(["installed", "installed", "installed"]);
    for (const name of ["fix", "warn", "ignore"]) {
      await f.api.patch(
        {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: `${name}-config`, namespace: f.ns },
          data: { color: "hacked" },
        },
        undefined,
        undefined,
        "kubectl-edit",
        undefined,
        PatchStrategy.MergePatch,
      );
    }
    const second = await f.run();
    expect(release(second, "fix")).toMatchObject({ status: "Ready", action: "drift corrected" });
    expect(release(second, "fix").changes.map((c) => [c.subject, c.action])).toEqual([
      [`ConfigMap/${f.ns}/fix-config`, "configured"],
    ]);
    expect((await configData(f.api, f.ns, "fix-config")).color).toBe("blue");

    expect(release(second, "warn")).toMatchObject({ status: "Ready", action: "unchanged" });
    expect(release(second, "warn").message).toContain("drift detected");
    expect(release(second, "warn").changes[0]?.diff).toContain(
      "   chartVersion: 0.1.0\n-  color: hacked\n+  color: blue\n",
    );
    // Helm's ownership metadata is part of what helm applies, not drift.
    expect(release(second, "warn").changes[0]?.diff).not.toContain("managed-by");
    expect((await configData(f.api, f.ns, "warn-config")).color).toBe("hacked");

    expect(release(second, "ignore")).toMatchObject({ action: "unchanged", changes: [] });
    expect((await configData(f.api, f.ns, "ignore-config")).color).toBe("hacked");

    expect(release(await f.run(), "fix")).toMatchObject({ action: "unchanged", changes: [] });
  }, 180_000);

  it("orders HelmReleases after their Kustomization and by dependsOn, and skips dependents of a failure", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/charts.yaml": repoFile(ns),
      "clusters/dev/infra.yaml": fluxKustomization({
        name: "infra",
        namespace: ns,
        path: "./infra",
        extra: "  wait: true\n",
      }),
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n  dependsOn:\n    - name: infra\n`,
      }),
      "infra/values.yaml": configMap("db-values", { "values.yaml": "color: from-infra" }, ns),
      "infra/db.yaml": helmReleaseYaml({
        name: "db",
        namespace: ns,
        version: "0.1.0",
        extra: "  valuesFrom:\n    - kind: ConfigMap\n      name: db-values\n",
      }),
      "infra/cache.yaml": helmReleaseYaml({
        name: "cache",
        namespace: ns,
        version: "0.1.0",
        extra: "  dependsOn:\n    - name: db\n",
      }),
      "apps/app.yaml": configMap("app", { ready: "yes" }),
    }));
    const first = await f.run();
    expect(first.errors).toEqual([]);
    expect(release(first, "db")).toMatchObject({ status: "Ready", action: "installed" });
    expect(release(first, "cache")).toMatchObject({ status: "Ready", action: "installed" });
    expect(kustomization(first, "apps").status).toBe("Ready");
    // db's values come from a ConfigMap that infra applies: it only works when infra ran first.
    expect((await configData(f.api, f.ns, "db-config")).color).toBe("from-infra");

    f.write({
      "infra/db.yaml": helmReleaseYaml({ name: "db", namespace: f.ns, version: "9.9.9" }),
    });
    const second = await f.run();
    expect(release(second, "db").status).toBe("Failed");
    expect(release(second, "db").message).toContain('no version of chart "demo" matches "9.9.9"');
    expect(release(second, "cache")).toMatchObject({ status: "DependencyNotReady" });
    expect(kustomization(second, "apps")).toMatchObject({ status: "DependencyNotReady" });
    expect(kustomization(second, "apps").message).toContain(`HelmRelease/${f.ns}/db`);
  }, 180_000);

  it("installs a chart from a directory of this repository", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/app.yaml": helmReleaseYaml({
        name: "local",
        namespace: ns,
        chart: "./charts/local",
        sourceKind: "GitRepository",
        repo: "flux-system",
      }),
    }));
    writeChart(join(f.repo, "charts"), {
      name: "local",
      version: "1.2.3",
      values: `${defaultValues}color: local\n`,
    });
    const first = await f.run();
    expect(release(first, "local")).toMatchObject({
      status: "Ready",
      action: "installed",
      chart: "local",
      version: "1.2.3",
    });
    expect((await configData(f.api, f.ns, "local-config")).color).toBe("local");
  }, 120_000);

  it("installs a chart from another Git repository, and upgrades when the chart version there changes", async () => {
    const name = uniqueName("chart-repo");
    const chartDir = mkdtempSync(join(tmpdir(), "gitops-bot-chart-src-"));
    writeChart(chartDir, { name: "remote", version: "0.5.0" });
    const files = (version: string) => {
      const read = (f: string) => readFileSync(join(chartDir, "remote", f), "utf8");
      return {
        "charts/remote/Chart.yaml": read("Chart.yaml").replace("0.5.0", version).replace("0.5.0", version),
        "charts/remote/values.yaml": read("values.yaml"),
        "charts/remote/templates/configmap.yaml": read("templates/configmap.yaml"),
      };
    };
    const git = await createGitRepo(join(inject("gitRoot"), name), files("0.5.0"));
    const f = await fixture((ns) => ({
      "clusters/dev/source.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: charts-git
  namespace: ${ns}
spec:
  interval: 5m
  url: ${inject("gitServerUrl")}/${name}
  ref:
    branch: main
`,
      "clusters/dev/app.yaml": helmReleaseYaml({
        name: "remote",
        namespace: ns,
        chart: "./charts/remote",
        sourceKind: "GitRepository",
        repo: "charts-git",
      }),
    }));
    const first = release(await f.run(), "remote");
    expect(first).toMatchObject({ status: "Ready", action: "installed", chart: "remote", version: "0.5.0" });
    expect(first.source).toBe(`GitRepository/${f.ns}/charts-git@main@sha1:${git.sha}`);
    await commitFiles(git.dir, files("0.6.0"), "bump chart");
    const second = release(await f.run(), "remote");
    expect(second).toMatchObject({ status: "Ready", action: "upgraded", version: "0.6.0", revision: 2 });
    expect((await configData(f.api, f.ns, "remote-config")).chartVersion).toBe("0.6.0");
  }, 120_000);

  it("unlocks a release that helm left pending and upgrades it", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/charts.yaml": repoFile(ns),
      "clusters/dev/app.yaml": helmReleaseYaml({ name: "stuck", namespace: ns, version: "0.1.0" }),
    }));
    expect(release(await f.run(), "stuck").action).toBe("installed");
    f.write({
      "clusters/dev/app.yaml": helmReleaseYaml({
        name: "stuck",
        namespace: f.ns,
        version: "0.1.0",
        extra: "  values:\n    color: red\n",
      }),
    });
    expect(release(await f.run(), "stuck").revision).toBe(2);
    // What a killed `helm upgrade` leaves behind: the latest revision in pending-upgrade.
    const name = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "sh.helm.release.v1.stuck.v2", namespace: f.ns },
    };
    const secret = (await f.api.read(name)) as {
      data: { release: string };
      metadata: { labels: Record<string, string> };
    };
    const decoded = decodeRelease(secret.data.release);
    decoded.info = { ...(decoded.info as object), status: "pending-upgrade" };
    await f.api.replace({
      ...secret,
      ...name,
      metadata: { ...secret.metadata, labels: { ...secret.metadata.labels, status: "pending-upgrade" } },
      data: { release: encodeRelease(decoded) },
    });
    expect((await helmHistory(f.ns, "stuck")).at(-1)?.status).toBe("pending-upgrade");

    const unlocked = release(await f.run(), "stuck");
    expect(unlocked).toMatchObject({ status: "Ready", action: "upgraded", revision: 3 });
    expect(unlocked.errors).toEqual([
      "release revision 2 was left pending-upgrade; marked failed to unlock it",
    ]);
    // helm supersedes the unlocked revision when the upgrade succeeds.
    expect((await helmHistory(f.ns, "stuck")).map((h) => h.status)).toEqual([
      "superseded",
      "superseded",
      "deployed",
    ]);
  }, 120_000);

  it("fetches from a repository with basic auth and never prints the password", async () => {
    const secured = await startHelmRepo({ auth: { user: "reader", password: "p4ssw0rd-xyz" } });
    try {
      await secured.addChart({ name: "demo", version: "0.3.0" });
      const f = await fixture((ns) => ({
        "clusters/dev/charts.yaml": helmRepositoryYaml(
          "secured",
          ns,
          secured.url,
          "  secretRef:\n    name: repo-auth\n",
        ),
        "clusters/dev/app.yaml": helmReleaseYaml({ name: "auth", namespace: ns, repo: "secured" }),
      }));
      const secret = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "repo-auth", namespace: f.ns },
        stringData: { username: "reader", password: "wrong-p4ss" },
      };
      await f.api.create(secret);
      const denied = await f.run();
      expect(release(denied, "auth").status).toBe("Failed");
      expect(release(denied, "auth").message).toContain("HTTP 401");
      expect(JSON.stringify(denied)).not.toContain("wrong-p4ss");

      await f.api.patch({ ...secret, stringData: { password: "p4ssw0rd-xyz" } });
      const allowed = await f.run();
      expect(release(allowed, "auth")).toMatchObject({
        status: "Ready",
        action: "installed",
        version: "0.3.0",
      });
      expect(JSON.stringify(allowed)).not.toContain("p4ssw0rd");
    } finally {
      await secured.stop();
    }
  }, 120_000);
});
