// Charts from the real OCI registry (pushed with `helm push`): a HelmRepository of type oci, and chartRef to an
// OCIRepository.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { helmReleaseYaml, helmRepositoryYaml, packageChart, pushChart } from "../support/helm-repo.js";
import { createNamespace, testKubeConfig, testObjectApi, uniqueName } from "../support/kube.js";
import { makeRepo } from "../support/repo-tree.js";

describe("charts from OCI", () => {
  it("installs from a HelmRepository of type oci and through chartRef to an OCIRepository", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "ocichart");
    const host = inject("registryHost");
    const repository = uniqueName("charts");
    const out = mkdtempSync(join(tmpdir(), "gitops-bot-oci-charts-"));
    await pushChart(await packageChart({ name: "demo", version: "0.1.0" }, out), host, repository);
    await pushChart(await packageChart({ name: "demo", version: "0.1.5" }, out), host, repository);
    await pushChart(await packageChart({ name: "demo", version: "1.0.0" }, out), host, repository);
    const repo = makeRepo({
      "clusters/dev/charts.yaml": helmRepositoryYaml(
        "charts",
        ns,
        `oci://${host}/${repository}`,
        "  type: oci\n  insecure: true\n",
      ),
      "clusters/dev/from-repo.yaml": helmReleaseYaml({ name: "from-repo", namespace: ns, version: "0.1.x" }),
      "clusters/dev/chart-source.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: demo-chart
  namespace: ${ns}
spec:
  interval: 5m
  url: oci://${host}/${repository}/demo
  insecure: true
  ref:
    tag: 1.0.0
  layerSelector:
    mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip
    operation: copy
`,
      "clusters/dev/from-ref.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: from-ref
  namespace: ${ns}
spec:
  interval: 10m
  chartRef:
    kind: OCIRepository
    name: demo-chart
`,
    });
    const run = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      kubeConfig: testKubeConfig(),
      scope: uniqueName("scope"),
      cacheDir: mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-")),
    });
    expect(run.errors).toEqual([]);
    const byName = Object.fromEntries((run.helmReleases ?? []).map((h) => [h.name, h]));
    expect(byName["from-repo"]).toMatchObject({ status: "Ready", action: "installed", version: "0.1.5" });
    expect(byName["from-repo"]?.source).toMatch(/^HelmRepository\/.+\/charts@0\.1\.5@sha256:/);
    expect(byName["from-ref"]).toMatchObject({
      status: "Ready",
      action: "installed",
      chart: "demo",
      version: "1.0.0",
    });
    expect(byName["from-ref"]?.source).toMatch(/^OCIRepository\/.+\/demo-chart@1\.0\.0@sha256:/);
  }, 120_000);
});
