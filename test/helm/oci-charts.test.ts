// Charts from the real OCI registry (pushed with `helm push`): a HelmRepository of type oci, chartRef to an
// OCIRepository, and chartRef to a HelmChart of the oci HelmRepository with values files from the chart.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import {
  helmPath,
  helmReleaseYaml,
  helmRepositoryYaml,
  packageChart,
  pushChart,
  run,
  writeChart,
} from "../support/helm-repo.js";
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
    // A chart whose archive holds a second values file, for a HelmChart with valuesFiles.
    const layered = writeChart(mkdtempSync(join(tmpdir(), "gitops-bot-chart-")), {
      name: "layered",
      version: "2.0.0",
    });
    writeFileSync(join(layered, "values-oci.yaml"), "color: from-oci-values-file\n");
    await run(helmPath(), ["package", layered, "--destination", out]);
    await pushChart(join(out, "layered-2.0.0.tgz"), host, repository);
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
      "clusters/dev/layered.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata:
  name: layered
  namespace: ${ns}
spec:
  interval: 5m
  chart: layered
  version: "2.x"
  sourceRef:
    kind: HelmRepository
    name: charts
  valuesFiles:
    - values.yaml
    - values-oci.yaml
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: from-chart
  namespace: ${ns}
spec:
  interval: 10m
  chartRef:
    kind: HelmChart
    name: layered
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
    const result = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      kubeConfig: testKubeConfig(),
      scope: uniqueName("scope"),
      cacheDir: mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-")),
    });
    expect(result.errors).toEqual([]);
    const byName = Object.fromEntries((result.helmReleases ?? []).map((h) => [h.name, h]));
    expect(byName["from-repo"]).toMatchObject({ status: "Ready", action: "installed", version: "0.1.5" });
    expect(byName["from-repo"]?.source).toMatch(/^HelmRepository\/.+\/charts@0\.1\.5@sha256:/);
    expect(byName["from-ref"]).toMatchObject({
      status: "Ready",
      action: "installed",
      chart: "demo",
      version: "1.0.0",
    });
    expect(byName["from-ref"]?.source).toMatch(/^OCIRepository\/.+\/demo-chart@1\.0\.0@sha256:/);
    expect(byName["from-chart"]).toMatchObject({ status: "Ready", action: "installed", version: "2.0.0" });
    const cm = (await api.read({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "from-chart-config", namespace: ns },
    })) as { data?: Record<string, string> };
    expect(cm.data?.color).toBe("from-oci-values-file");
  }, 120_000);
});
