// HelmRelease `test`: helm test hooks run after install and upgrade; a failing test fails the release and is
// remediated like a failed upgrade. The hook is a Job (kwok completes Job pods), or, to fail, an object the
// API server rejects.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import {
  defaultTemplates,
  type HelmRepoServer,
  helmReleaseYaml,
  helmRepositoryYaml,
  startHelmRepo,
} from "../support/helm-repo.js";
import {
  createNamespace,
  testKubeConfig,
  testObjectApi,
  uniqueName,
  waitForWorkloads,
} from "../support/kube.js";
import { makeRepo, writeTree } from "../support/repo-tree.js";

const testHook = `{{- if .Values.testFails }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    helm.sh/hook: test
  labels:
    bad: "not a valid label!"
{{- else }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: test
          image: registry.invalid/test:1
{{- end }}
`;

let charts: HelmRepoServer;
beforeAll(async () => {
  charts = await startHelmRepo();
  await charts.addChart({
    name: "tested",
    version: "1.0.0",
    templates: { ...defaultTemplates, "test.yaml": testHook },
  });
});
afterAll(() => charts?.stop());

describe("HelmRelease test", () => {
  it("runs helm test after install, and rolls back an upgrade whose test fails", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "helmtest");
    await waitForWorkloads(api, ns);
    const hr = (values: string) =>
      helmReleaseYaml({
        name: "t",
        namespace: ns,
        chart: "tested",
        extra: `  test:\n    enable: true\n    timeout: 90s\n  upgrade:\n    remediation:\n      retries: 1\n  values:\n${values}`,
      });
    const repo = makeRepo({
      "clusters/dev/charts.yaml": helmRepositoryYaml("charts", ns, charts.url),
      "clusters/dev/app.yaml": hr("    color: blue\n"),
    });
    const opts = {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      kubeConfig: testKubeConfig(),
      scope: uniqueName("scope"),
      cacheDir: mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-")),
    };
    const installed = (await reconcileTree(api, opts)).helmReleases?.[0];
    expect(installed).toMatchObject({ status: "Ready", action: "installed", errors: [] });

    writeTree(repo, { "clusters/dev/app.yaml": hr("    color: red\n    testFails: true\n") });
    const failed = (await reconcileTree(api, opts)).helmReleases?.[0];
    expect(failed?.status).toBe("Failed");
    expect(failed?.message).toMatch(
      /^test failed: .*\(rolled back to revision \d+\); upgrade retries exhausted after 2 attempts$/,
    );
    const cm = (await api.read({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "t-config", namespace: ns },
    })) as {
      data: Record<string, string>;
    };
    expect(cm.data.color).toBe("blue");
  }, 240_000);
});
