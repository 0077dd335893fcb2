// HelmChart sources (chartRef) and chart values files, end to end: a real Helm HTTP repository serving a chart
// whose archive holds extra values files, charts in this repository's tree, the real helm binary and API
// server. Values files replace the chart's values.yaml in the order given (Flux's source-controller), and
// valuesFrom / values still go over them.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import type { HelmReleaseResult, RunResult } from "../../src/reconcile/result.js";
import { defaultReconcileOptions, type ReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import {
  defaultValues,
  type HelmRepoServer,
  helmPath,
  helmReleaseYaml,
  helmRepositoryYaml,
  run,
  startHelmRepo,
  writeChart,
} from "../support/helm-repo.js";
import { createNamespace, exists, testKubeConfig, testObjectApi, uniqueName } from "../support/kube.js";
import { makeRepo, writeTree } from "../support/repo-tree.js";

let charts: HelmRepoServer;
const cacheDir = mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-"));

/** A chart archive in the repository with values files beside values.yaml. */
async function addChartWithValuesFiles(name: string, version: string): Promise<void> {
  const src = mkdtempSync(join(tmpdir(), "gitops-bot-chart-"));
  const dir = writeChart(src, { name, version, values: `${defaultValues}extra:\n  fromDefaults: true\n` });
  writeFileSync(join(dir, "values-prod.yaml"), "color: prod\nextra:\n  fromProd: true\n");
  writeFileSync(join(dir, "values-eu.yaml"), "color: eu\n");
  await run(helmPath(), ["package", dir, "--destination", charts.dir]);
  await run(helmPath(), ["repo", "index", charts.dir, "--url", charts.url]);
}

beforeAll(async () => {
  charts = await startHelmRepo();
  await addChartWithValuesFiles("layered", "1.0.0");
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
  const ns = await createNamespace(api, "helmchart");
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

function release(result: RunResult, name: string): HelmReleaseResult {
  const found = result.helmReleases?.find((h) => h.name === name);
  if (!found) throw new Error(`no HelmRelease result for ${name}: ${JSON.stringify(result, null, 2)}`);
  return found;
}

async function configData(api: RawObjectApi, ns: string, name: string): Promise<Record<string, string>> {
  const cm = (await api.read({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns } })) as {
    data?: Record<string, string>;
  };
  return cm.data ?? {};
}

function helmChartYaml(name: string, ns: string, spec: string): string {
  return `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  interval: 10m
${spec}`;
}

function chartRefRelease(name: string, ns: string, chart: string, extra = ""): string {
  return `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  interval: 10m
  timeout: 60s
  chartRef:
    kind: HelmChart
    name: ${chart}
${extra}`;
}

describe("HelmChart sources and chart values files", () => {
  it("installs through chartRef to a HelmChart of a HelmRepository, its values files replacing values.yaml in order", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/charts.yaml": helmRepositoryYaml("charts", ns, charts.url),
      "clusters/dev/chart.yaml": helmChartYaml(
        "layered",
        ns,
        `  chart: layered
  version: "1.x"
  sourceRef:
    kind: HelmRepository
    name: charts
  valuesFiles:
    - values.yaml
    - values-prod.yaml
`,
      ),
      "clusters/dev/only-eu.yaml": helmChartYaml(
        "only-eu",
        ns,
        "  chart: layered\n  sourceRef:\n    kind: HelmRepository\n    name: charts\n  valuesFiles:\n    - values-eu.yaml\n",
      ),
      "clusters/dev/app.yaml": chartRefRelease("app", ns, "layered"),
      "clusters/dev/eu.yaml": chartRefRelease(
        "eu",
        ns,
        "only-eu",
        "  values:\n    extra:\n      inline: 1\n",
      ),
    }));
    const first = await f.run();
    expect(release(first, "app")).toMatchObject({
      status: "Ready",
      action: "installed",
      chart: "layered",
      version: "1.0.0",
      source: `HelmChart/${f.ns}/layered@1.0.0`,
    });
    expect(first.sources).toContainEqual(
      expect.objectContaining({ kind: "HelmChart", name: "layered", revision: "1.0.0" }),
    );
    expect(await configData(f.api, f.ns, "app-config")).toMatchObject({
      color: "prod",
      extra: '{"fromDefaults":true,"fromProd":true}',
    });
    // values.yaml not listed: its defaults are gone (Flux replaces the chart's values), values still apply.
    expect(release(first, "eu").status).toBe("Ready");
    expect(await configData(f.api, f.ns, "eu-config")).toMatchObject({ color: "eu", extra: '{"inline":1}' });

    const second = await f.run();
    expect(release(second, "app")).toMatchObject({ status: "Ready", action: "unchanged" });

    // Changing the list changes the chart's defaults: an upgrade.
    f.write({
      "clusters/dev/chart.yaml": helmChartYaml(
        "layered",
        f.ns,
        "  chart: layered\n  sourceRef:\n    kind: HelmRepository\n    name: charts\n  valuesFiles:\n    - values-prod.yaml\n    - values-eu.yaml\n",
      ),
    });
    const third = await f.run();
    expect(release(third, "app")).toMatchObject({ status: "Ready", action: "upgraded" });
    expect(await configData(f.api, f.ns, "app-config")).toMatchObject({
      color: "eu",
      extra: '{"fromProd":true}',
    });
  }, 240_000);

  it("installs through a HelmChart of this repository's chart directory, its values files from the repository root", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/chart.yaml": helmChartYaml(
        "local",
        ns,
        `  chart: ./charts/local
  reconcileStrategy: Revision
  sourceRef:
    kind: GitRepository
    name: flux-system
  valuesFiles:
    - charts/local/values.yaml
    - envs/dev.yaml
`,
      ),
      "clusters/dev/app.yaml": chartRefRelease("app", ns, "local"),
      "envs/dev.yaml": "color: dev\n",
    }));
    writeChart(join(f.repo, "charts"), { name: "local", version: "2.0.0" });
    const first = release(await f.run(), "app");
    expect(first).toMatchObject({ status: "Ready", action: "installed", chart: "local" });
    // Flux's Revision strategy: the version carries a digest of the chart's files.
    expect(first.version).toMatch(/^2\.0\.0\+[0-9a-f]{12}$/);
    expect(first.source).toBe(`HelmChart/${f.ns}/local@${first.version}`);
    expect((await configData(f.api, f.ns, "app-config")).color).toBe("dev");
  }, 120_000);

  it("reads a Git chart's values files from the source root, under valuesFrom and values, and upgrades when a file changes", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/app.yaml": helmReleaseYaml({
        name: "local",
        namespace: ns,
        chart: "./charts/local",
        sourceKind: "GitRepository",
        repo: "flux-system",
        extra: `  values:
    extra:
      inline: true
`,
      }).replace(
        "        name: flux-system\n",
        "        name: flux-system\n      valuesFiles:\n        - charts/local/values.yaml\n        - envs/prod/values.yaml\n",
      ),
      "envs/prod/values.yaml": "color: prod\nextra:\n  env: prod\n",
    }));
    writeChart(join(f.repo, "charts"), { name: "local", version: "1.2.3" });
    const first = release(await f.run(), "local");
    expect(first).toMatchObject({ status: "Ready", action: "installed", version: "1.2.3" });
    expect(await configData(f.api, f.ns, "local-config")).toMatchObject({
      color: "prod",
      extra: '{"env":"prod","inline":true}',
    });

    f.write({ "envs/prod/values.yaml": "color: green\n" });
    const second = release(await f.run(), "local");
    expect(second).toMatchObject({ status: "Ready", action: "upgraded" });
    expect((await configData(f.api, f.ns, "local-config")).color).toBe("green");
  }, 180_000);

  it("fails a missing values file naming file, object and field, and leaves it out with ignoreMissingValuesFiles", async () => {
    const hr = (ns: string, ignore: boolean) =>
      helmReleaseYaml({ name: "gaps", namespace: ns, chart: "layered", version: "1.0.0" }).replace(
        "        name: charts\n",
        `        name: charts\n      valuesFiles:\n        - values-prod.yaml\n        - values-missing.yaml\n${ignore ? "      ignoreMissingValuesFiles: true\n" : ""}`,
      );
    const f = await fixture((ns) => ({
      "clusters/dev/charts.yaml": helmRepositoryYaml("charts", ns, charts.url),
      "clusters/dev/app.yaml": hr(ns, false),
    }));
    const failed = release(await f.run(), "gaps");
    expect(failed.status).toBe("Failed");
    expect(failed.message).toBe(
      `clusters/dev/app.yaml: HelmRelease/${f.ns}/gaps: spec.chart.spec.valuesFiles[1]: no values file "values-missing.yaml" in chart layered@1.0.0 (set ignoreMissingValuesFiles to leave missing files out)`,
    );
    expect(await exists(f.api, "v1", "ConfigMap", "gaps-config", f.ns)).toBe(false);

    f.write({ "clusters/dev/app.yaml": hr(f.ns, true) });
    const fixed = release(await f.run(), "gaps");
    expect(fixed).toMatchObject({ status: "Ready", action: "installed" });
    expect((await configData(f.api, f.ns, "gaps-config")).color).toBe("prod");
  }, 180_000);
});
