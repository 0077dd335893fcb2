// HelmRelease features beyond install/upgrade: kustomize post-renderers and commonMetadata (through a Helm 4
// post-renderer plugin), waiting for a Deployment to roll out (kwok nodes), CRDs applied on upgrade with
// upgrade.crds: CreateReplace.
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
  writeChart,
} from "../support/helm-repo.js";
import {
  createNamespace,
  testKubeConfig,
  testObjectApi,
  uniqueName,
  waitForWorkloads,
} from "../support/kube.js";
import { makeRepo, writeTree } from "../support/repo-tree.js";

let charts: HelmRepoServer;
const cacheDir = mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-"));
const crdGroup = `${uniqueName("widgets")}.example.com`;
const crd = (version: string) => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.${crdGroup}
  labels:
    chart-version: "${version}"
spec:
  group: ${crdGroup}
  names:
    kind: Widget
    plural: widgets
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
`;

beforeAll(async () => {
  charts = await startHelmRepo();
  await charts.addChart({ name: "demo", version: "0.1.0" });
  await charts.addChart({
    name: "crds",
    version: "1.0.0",
    templates: defaultTemplates,
    crds: { "widget.yaml": crd("1.0.0") },
  });
  await charts.addChart({
    name: "crds",
    version: "2.0.0",
    templates: defaultTemplates,
    crds: { "widget.yaml": crd("2.0.0") },
  });
});
afterAll(() => charts?.stop());

describe("HelmRelease rendering and waiting", () => {
  it("post-renders with kustomize patches and commonMetadata, and waits for the Deployment to roll out", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "postrender");
    await waitForWorkloads(api, ns);
    const repo = makeRepo({
      "clusters/dev/charts.yaml": helmRepositoryYaml("charts", ns, charts.url),
      "clusters/dev/app.yaml": helmReleaseYaml({
        name: "web",
        namespace: ns,
        extra: `  values:
    deployment: true
    replicas: 2
  commonMetadata:
    labels:
      team: payments
  postRenderers:
    - kustomize:
        patches:
          - target:
              kind: ConfigMap
            patch: |
              - op: add
                path: /data/patched
                value: "yes"
        images:
          - name: registry.invalid/app
            newTag: "2.0.0"
`,
      }),
    });
    const scope = uniqueName("scope");
    // The preview renders without the cluster, post-renderers included.
    const preview = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      kubeConfig: testKubeConfig(),
      scope,
      cacheDir,
      dryRun: true,
      withDiff: true,
    });
    expect(preview.helmReleases?.[0]).toMatchObject({ status: "Ready", action: "installed" });
    const previewed = preview.helmReleases?.[0]?.changes.find(
      (c) => c.subject === `ConfigMap/${ns}/web-config`,
    );
    expect(previewed?.diff).toContain("patched: yes");
    expect(previewed?.diff).toContain("team: payments");
    const run = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      kubeConfig: testKubeConfig(),
      scope,
      cacheDir,
    });
    expect(run.helmReleases?.[0]).toMatchObject({ status: "Ready", action: "installed" });
    const cm = (await api.read({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "web-config", namespace: ns },
    })) as {
      data: Record<string, string>;
      metadata: { labels: Record<string, string> };
    };
    expect(cm.data.patched).toBe("yes");
    expect(cm.metadata.labels.team).toBe("payments");
    const deploy = (await api.read({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: ns },
    })) as {
      spec: { template: { spec: { containers: { image: string }[] } } };
      status?: { readyReplicas?: number };
    };
    expect(deploy.spec.template.spec.containers[0]?.image).toBe("registry.invalid/app:2.0.0");
    // helm --wait=watcher returned only after the rollout: the replicas are ready now.
    expect(deploy.status?.readyReplicas).toBe(2);
  }, 180_000);

  it("replaces the chart's CRDs on upgrade with upgrade.crds: CreateReplace", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "crds");
    const hr = (version: string) =>
      helmReleaseYaml({
        name: "crd-app",
        namespace: ns,
        chart: "crds",
        version,
        extra: "  install:\n    crds: Create\n  upgrade:\n    crds: CreateReplace\n",
      });
    const repo = makeRepo({
      "clusters/dev/charts.yaml": helmRepositoryYaml("charts", ns, charts.url),
      "clusters/dev/app.yaml": hr("1.0.0"),
    });
    const opts = {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      kubeConfig: testKubeConfig(),
      scope: uniqueName("scope"),
      cacheDir,
    };
    const label = async () =>
      (
        (await api.read({
          apiVersion: "apiextensions.k8s.io/v1",
          kind: "CustomResourceDefinition",
          metadata: { name: `widgets.${crdGroup}` },
        })) as { metadata: { labels: Record<string, string> } }
      ).metadata.labels["chart-version"];
    const crdSubject = `CustomResourceDefinition/widgets.${crdGroup}`;
    const installPreview = (await reconcileTree(api, { ...opts, dryRun: true, withDiff: true }))
      .helmReleases?.[0];
    expect(installPreview?.changes.find((c) => c.subject === crdSubject)?.action).toBe("created");
    expect((await reconcileTree(api, opts)).helmReleases?.[0]?.action).toBe("installed");
    expect(await label()).toBe("1.0.0");
    writeTree(repo, { "clusters/dev/app.yaml": hr("2.0.0") });
    const upgradePreview = (await reconcileTree(api, { ...opts, dryRun: true, withDiff: true }))
      .helmReleases?.[0];
    expect(upgradePreview).toMatchObject({ status: "Ready", action: "upgraded" });
    // Not a release object: the preview says it would be replaced, without showing the live definition.
    expect(upgradePreview?.changes.find((c) => c.subject === crdSubject)).toMatchObject({
      action: "configured",
      reason: "crds: CreateReplace replaces it",
    });
    expect((await reconcileTree(api, opts)).helmReleases?.[0]).toMatchObject({
      action: "upgraded",
      status: "Ready",
    });
    expect(await label()).toBe("2.0.0");
  }, 120_000);

  it("previews custom objects whose CRD the chart creates in the same install, and a namespace it creates", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "crdnew");
    const group = `${uniqueName("gadgets")}.example.com`;
    const target = uniqueName("made");
    const repo = makeRepo({
      "clusters/dev/app.yaml": helmReleaseYaml({
        name: "gadgets",
        namespace: ns,
        chart: "./charts/gadgets",
        sourceKind: "GitRepository",
        repo: "flux-system",
        extra: `  targetNamespace: ${target}\n  install:\n    createNamespace: true\n`,
      }),
    });
    writeChart(join(repo, "charts"), {
      name: "gadgets",
      version: "1.0.0",
      crds: {
        "gadget.yaml": crd("1.0.0")
          .replaceAll(crdGroup, group)
          .replaceAll("Widget", "Gadget")
          .replaceAll("widgets", "gadgets"),
      },
      templates: {
        "gadget.yaml": `apiVersion: ${group}/v1\nkind: Gadget\nmetadata:\n  name: one\nspec:\n  size: 1\n`,
      },
    });
    const preview = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      kubeConfig: testKubeConfig(),
      scope: uniqueName("scope"),
      cacheDir,
      dryRun: true,
      withDiff: true,
    });
    const hr = preview.helmReleases?.[0];
    expect(hr?.errors).toEqual([]);
    expect(hr).toMatchObject({ status: "Ready", action: "installed" });
    expect(hr?.changes.map((c) => [c.subject, c.action, c.reason])).toEqual([
      [`Namespace/${target}`, "created", "install.createNamespace"],
      [`CustomResourceDefinition/gadgets.${group}`, "created", undefined],
      [`Gadget/${target}/one`, "created", "its CustomResourceDefinition is created in the same change"],
    ]);
  }, 120_000);
});

describe("post-renderer patches are repository YAML", () => {
  it("an alias bomb in an inline patch is refused naming the file, object and field; helm renders nothing", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "postrender-bomb");
    const levels = Array.from(
      { length: 8 },
      (_, i) => `a${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(", ")}]`,
    );
    const bomb = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]", ...levels]
      .map((l) => `              ${l}`)
      .join("\n");
    const repo = makeRepo({
      "clusters/dev/charts.yaml": helmRepositoryYaml("charts", ns, charts.url),
      "clusters/dev/app.yaml": helmReleaseYaml({
        name: "web",
        namespace: ns,
        extra: `  postRenderers:
    - kustomize:
        patches:
          - target:
              kind: ConfigMap
            patch: |
${bomb}
`,
      }),
    });
    const started = Date.now();
    for (const dryRun of [true, false]) {
      const run = await reconcileTree(api, {
        ...defaultReconcileOptions(repo, "clusters/dev"),
        kubeConfig: testKubeConfig(),
        scope: uniqueName("scope"),
        cacheDir,
        dryRun,
      });
      const hr = run.helmReleases?.[0];
      expect(hr?.status).toBe("Failed");
      expect(hr?.message).toContain("clusters/dev/app.yaml");
      expect(hr?.message).toContain(`HelmRelease/${ns}/web`);
      expect(hr?.message).toContain(
        "spec.postRenderers[0].kustomize.patches[0].patch: YAML aliases expand too far",
      );
    }
    expect(Date.now() - started).toBeLessThan(30_000);
    await expect(
      api.read({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "web-config", namespace: ns } }),
    ).rejects.toThrow();
  });
});
