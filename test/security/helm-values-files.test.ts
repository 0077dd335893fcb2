// Attacks through chart values files (HelmRelease spec.chart.spec.valuesFiles, HelmChart spec.valuesFiles) and
// through the failure count the bot keeps beside Helm's storage, for real: the engine (reconcileTree), the real
// helm binary and API server. A values file path is repository content: `..`, absolute paths, symlinks out of
// the source, huge files and YAML alias bombs must each end with a clear error naming file, object and field,
// nothing installed, and the canary (a file outside the repository) never in any result.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import type { HelmReleaseResult, RunResult } from "../../src/reconcile/result.js";
import { defaultReconcileOptions, type ReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import {
  type HelmRepoServer,
  helm,
  helmReleaseYaml,
  helmRepositoryYaml,
  startHelmRepo,
  writeChart,
} from "../support/helm-repo.js";
import { createNamespace, exists, testKubeConfig, testObjectApi, uniqueName } from "../support/kube.js";
import { makeRepo } from "../support/repo-tree.js";

const cacheDir = mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-"));
let charts: HelmRepoServer;

beforeAll(async () => {
  charts = await startHelmRepo();
  await charts.addChart({ name: "demo", version: "0.1.0" });
});
afterAll(() => charts?.stop());

interface Fixture {
  api: RawObjectApi;
  ns: string;
  repo: string;
  run(overrides?: Partial<ReconcileOptions>): Promise<RunResult>;
}

async function fixture(files: (ns: string) => Record<string, string>): Promise<Fixture> {
  const api = testObjectApi();
  const ns = await createNamespace(api, "helm-vf");
  const repo = makeRepo(files(ns));
  const scope = uniqueName("scope");
  return {
    api,
    ns,
    repo,
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

/** A HelmRelease of this repository's chart directory with the given values files. */
function localRelease(ns: string, files: string[], extra = ""): string {
  return helmReleaseYaml({
    name: "app",
    namespace: ns,
    chart: "./charts/app",
    sourceKind: "GitRepository",
    repo: "flux-system",
    extra,
  }).replace(
    "        name: flux-system\n",
    `        name: flux-system\n      valuesFiles:\n${files.map((f) => `        - ${JSON.stringify(f)}\n`).join("")}`,
  );
}

/** A canary file outside every repository: its content must never reach a result, a release or an object. */
function canaryFile(): { path: string; dir: string; value: string } {
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-canary-"));
  const value = `canary-${randomBytes(12).toString("hex")}`;
  const path = join(dir, "values.yaml");
  writeFileSync(path, `color: ${value}\n`);
  return { path, dir, value };
}

async function expectNothingInstalled(f: Fixture): Promise<void> {
  expect(JSON.parse(await helm(["list", "-n", f.ns, "-o", "json"], inject("kubeconfigPath")))).toEqual([]);
  expect(await exists(f.api, "v1", "ConfigMap", "app-config", f.ns)).toBe(false);
}

function helmRelease(result: RunResult): HelmReleaseResult | undefined {
  return result.helmReleases?.find((h) => h.name === "app");
}

/** A run's result, or the error it was refused with (a repository-wide check refuses before any plan). */
async function outcome(f: Fixture): Promise<{ text: string; errors: string }> {
  try {
    const result = await f.run();
    return { text: JSON.stringify(result), errors: errorsOf(result) };
  } catch (err) {
    return { text: String((err as Error).stack), errors: (err as Error).message };
  }
}

/** Every error text a run reports: the run's and the HelmRelease's. */
function errorsOf(result: RunResult): string {
  const hr = helmRelease(result);
  return [...result.errors, ...(hr ? [hr.message, ...hr.errors] : [])].join("\n");
}

describe("values file paths from the repository", () => {
  it.each([
    [
      "a path with ..",
      "../../../etc/passwd",
      `"../../../etc/passwd" is not a valid path (leaves the root through '..')`,
    ],
    [
      "an absolute path",
      "/etc/passwd",
      `"/etc/passwd" is not a valid path (must be relative to the root, not absolute)`,
    ],
    [
      "a .. hidden mid-path",
      "charts/app/../../../x.yaml",
      `"charts/app/../../../x.yaml" is not a valid path (leaves the root through '..')`,
    ],
  ])(
    "refuses %s when the file is parsed, naming file, object and field",
    async (_label, path, reason) => {
      const f = await fixture((ns) => ({
        "clusters/dev/app.yaml": localRelease(ns, ["charts/app/values.yaml", path]),
      }));
      writeChart(join(f.repo, "charts"), { name: "app", version: "1.0.0" });
      const started = Date.now();
      const result = await f.run();
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(errorsOf(result)).toContain(
        `clusters/dev/app.yaml: HelmRelease/${f.ns}/app: spec.chart.spec.valuesFiles[1]: ${reason}`,
      );
      await expectNothingInstalled(f);
    },
    120_000,
  );

  it("refuses the same in a HelmChart's spec.valuesFiles", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/charts.yaml": helmRepositoryYaml("charts", ns, charts.url),
      "clusters/dev/chart.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata:
  name: demo
  namespace: ${ns}
spec:
  interval: 10m
  chart: demo
  sourceRef:
    kind: HelmRepository
    name: charts
  valuesFiles:
    - ../../secrets.yaml
`,
      "clusters/dev/app.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: app
  namespace: ${ns}
spec:
  interval: 10m
  chartRef:
    kind: HelmChart
    name: demo
`,
    }));
    const result = await f.run();
    expect(errorsOf(result)).toContain(
      `clusters/dev/chart.yaml: HelmChart/${f.ns}/demo: spec.valuesFiles[0]: "../../secrets.yaml" is not a valid path (leaves the root through '..')`,
    );
    await expectNothingInstalled(f);
  }, 120_000);

  it("refuses a values file that is a symbolic link out of the repository, and never reads the target", async () => {
    const canary = canaryFile();
    const f = await fixture((ns) => ({ "clusters/dev/app.yaml": localRelease(ns, ["envs/prod.yaml"]) }));
    writeChart(join(f.repo, "charts"), { name: "app", version: "1.0.0" });
    mkdirSync(join(f.repo, "envs"), { recursive: true });
    symlinkSync(canary.path, join(f.repo, "envs/prod.yaml"));
    const { text, errors } = await outcome(f);
    expect(text).not.toContain(canary.value);
    expect(errors).toContain("envs/prod.yaml: symlink leads outside the repository");
    await expectNothingInstalled(f);
  }, 120_000);

  it("refuses a values file reached through a directory link out of the repository", async () => {
    const canary = canaryFile();
    const f = await fixture((ns) => ({
      "clusters/dev/app.yaml": localRelease(ns, ["envs/out/values.yaml"]),
    }));
    writeChart(join(f.repo, "charts"), { name: "app", version: "1.0.0" });
    mkdirSync(join(f.repo, "envs"), { recursive: true });
    symlinkSync(canary.dir, join(f.repo, "envs/out"));
    const { text, errors } = await outcome(f);
    expect(text).not.toContain(canary.value);
    expect(errors).toContain("envs/out: symlink leads outside the repository");
    await expectNothingInstalled(f);
  }, 120_000);

  it("refuses a huge values file within its bound, naming file, object and field", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/app.yaml": localRelease(ns, ["envs/huge.yaml"]),
      // 5 MiB of one YAML mapping: above the 4 MiB bound of one values file.
      "envs/huge.yaml": `color: red\npad: "${"x".repeat(5 * 1024 * 1024)}"\n`,
    }));
    writeChart(join(f.repo, "charts"), { name: "app", version: "1.0.0" });
    const started = Date.now();
    const result = await f.run();
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(errorsOf(result)).toContain(
      `clusters/dev/app.yaml: HelmRelease/${f.ns}/app: spec.chart.spec.valuesFiles[0]: "envs/huge.yaml" is larger than 4194304 bytes; refused`,
    );
    expect(JSON.stringify(result).length).toBeLessThan(100_000);
    await expectNothingInstalled(f);
  }, 120_000);

  it("refuses a YAML alias bomb in a values file", async () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      lines.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(",")}]`);
    }
    const f = await fixture((ns) => ({
      "clusters/dev/app.yaml": localRelease(ns, ["envs/bomb.yaml"]),
      "envs/bomb.yaml": `${lines.join("\n")}\n`,
    }));
    writeChart(join(f.repo, "charts"), { name: "app", version: "1.0.0" });
    const started = Date.now();
    const result = await f.run();
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(errorsOf(result)).toContain(
      `clusters/dev/app.yaml: HelmRelease/${f.ns}/app: spec.chart.spec.valuesFiles[0]: "envs/bomb.yaml" is not valid YAML`,
    );
    await expectNothingInstalled(f);
  }, 120_000);

  it("refuses a values file that is a directory", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/app.yaml": localRelease(ns, ["envs"]),
      "envs/prod.yaml": "color: red\n",
    }));
    writeChart(join(f.repo, "charts"), { name: "app", version: "1.0.0" });
    const result = await f.run();
    expect(errorsOf(result)).toContain(`spec.chart.spec.valuesFiles[0]: "envs" is not a regular file`);
    await expectNothingInstalled(f);
  }, 120_000);
});

describe("the failure count beside Helm's storage", () => {
  it("treats a planted or garbled count as none, says so, and still installs", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/charts.yaml": helmRepositoryYaml("charts", ns, charts.url),
      "clusters/dev/app.yaml": helmReleaseYaml({ name: "app", namespace: ns, version: "0.1.0" }),
    }));
    await f.api.create({
      apiVersion: "v1",
      kind: "Secret",
      type: "gitops-bot.dev/helm-remediation",
      metadata: { name: "gitops-bot.helm-remediation.app", namespace: f.ns },
      stringData: {
        state: Buffer.from('{"desired":"x","installFailures":1e308,"__proto__":{"a":1}}').toString("base64"),
      },
    } as Parameters<RawObjectApi["create"]>[0]);
    const result = helmRelease(await f.run());
    expect(result).toMatchObject({ status: "Ready", action: "installed" });
    expect(result?.errors.join("\n")).toContain("does not hold a failure count; counting from zero");
    // Installed: the count is no longer needed.
    expect(await exists(f.api, "v1", "Secret", "gitops-bot.helm-remediation.app", f.ns)).toBe(false);
  }, 120_000);

  it("never deletes or rewrites a Secret of another type that carries the count's name", async () => {
    const f = await fixture((ns) => ({
      "clusters/dev/charts.yaml": helmRepositoryYaml("charts", ns, charts.url),
      "clusters/dev/app.yaml": helmReleaseYaml({ name: "app", namespace: ns, version: "0.1.0" }),
    }));
    await f.api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "gitops-bot.helm-remediation.app", namespace: f.ns },
      stringData: { password: "someone-elses" },
    } as Parameters<RawObjectApi["create"]>[0]);
    expect(helmRelease(await f.run())).toMatchObject({ status: "Ready", action: "installed" });
    expect(helmRelease(await f.run())).toMatchObject({ status: "Ready", action: "unchanged" });
    const kept = (await f.api.read({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "gitops-bot.helm-remediation.app", namespace: f.ns },
    })) as { type?: string; data?: Record<string, string> };
    expect(kept.type).toBe("Opaque");
    expect(Buffer.from(kept.data?.password ?? "", "base64").toString()).toBe("someone-elses");
    expect(kept.data?.state).toBeUndefined();
  }, 120_000);
});
