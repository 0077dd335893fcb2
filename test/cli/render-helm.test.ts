// `gitops-bot build --render-helm`: each HelmRelease's YAML is followed by what its chart renders with its values
// (`helm template`, no cluster access), from a real local Helm repository; valuesFrom is left out with a note;
// errors name the HelmRelease and the field and exit 2.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { TreeResultJson } from "../../src/cli/json-output.js";
import { cli } from "../support/cli.js";
import {
  defaultTemplates,
  type HelmRepoServer,
  helmReleaseYaml,
  helmRepositoryYaml,
  startHelmRepo,
} from "../support/helm-repo.js";
import { fluxKustomization, makeRepo } from "../support/repo-tree.js";

const secretTemplate = `apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-credentials
stringData:
  token: {{ .Values.token | default "none" | quote }}
`;
const lookupTemplate = `{{- $ns := lookup "v1" "Namespace" "" "default" }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-lookup
data:
  found: {{ if $ns }}"yes"{{ else }}"no"{{ end }}
`;

let charts: HelmRepoServer;
beforeAll(async () => {
  // With KUBECONFIG pointing at a live cluster, a `lookup` would find the default namespace if helm could ask.
  process.env.KUBECONFIG = inject("kubeconfigPath");
  process.env.GITOPS_BOT_CACHE_DIR = mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-"));
  charts = await startHelmRepo();
  await charts.addChart({
    name: "demo",
    version: "1.2.0",
    templates: { ...defaultTemplates, "secret.yaml": secretTemplate, "lookup.yaml": lookupTemplate },
  });
  await charts.addChart({
    name: "broken",
    version: "0.1.0",
    templates: { "fail.yaml": `{{ required "broken: .Values.needed is required" .Values.needed }}\n` },
  });
});
afterAll(() => charts?.stop());

/** A cluster path with an `apps` Kustomization whose build holds a HelmRepository and a HelmRelease. */
function fleet(release: string): string {
  return makeRepo({
    "clusters/dev/apps.yaml": fluxKustomization({
      name: "apps",
      namespace: "flux-system",
      path: "./apps",
      extra: "  postBuild:\n    substitute:\n      app_image: registry.example.com/app:2.0.0\n",
    }),
    "apps/kustomization.yaml":
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - repo.yaml\n  - release.yaml\n",
    "apps/repo.yaml": helmRepositoryYaml("charts", "apps", charts.url),
    "apps/release.yaml": release,
  });
}

const appRelease = (extra = "") =>
  helmReleaseYaml({
    name: "app",
    namespace: "apps",
    version: "1.x",
    extra: `  values:
    deployment: true
    replicas: 3
    image: \${app_image}
    token: s3cr3t-t0ken-value
${extra}`,
  });

const docs = (text: string) =>
  parseAllDocuments(text).map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec?: never });

describe("build --render-helm", () => {
  it("prints the chart's Deployment with the HelmRelease's values right after the HelmRelease", async () => {
    const repo = fleet(appRelease());
    const r = await cli(["build", "clusters/dev", "--repo", repo, "--render-helm"]);
    expect(r.err).not.toContain("gitops-bot build:");
    expect(r.code).toBe(0);
    const objects = docs(r.out);
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    const at = kinds.indexOf("HelmRelease/app");
    expect(at).toBeGreaterThanOrEqual(0);
    expect(kinds.slice(at + 1)).toEqual(
      expect.arrayContaining(["ConfigMap/app-config", "Deployment/app", "Secret/app-credentials"]),
    );
    const deployment = objects.find((o) => o.kind === "Deployment") as unknown as {
      spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
    };
    expect(deployment.spec.replicas).toBe(3);
    // The HelmRelease's values after the Kustomization's postBuild.substitute, as Flux would apply it.
    expect(deployment.spec.template.spec.containers[0]?.image).toBe("registry.example.com/app:2.0.0");
    expect(r.out).toContain("# Source: HelmRelease apps/app chart demo@1.2.0");
    // Rendered Secrets are masked like every other Secret of build's output (the value shows once: in the
    // HelmRelease's inline values, which are in Git).
    const secret = objects.find((o) => o.kind === "Secret") as unknown as { stringData: { token: string } };
    expect(secret.stringData.token).toBe("*****");
    expect(r.out.split("s3cr3t-t0ken-value")).toHaveLength(2);
    expect(r.out).not.toContain(Buffer.from("s3cr3t-t0ken-value").toString("base64"));
  });

  it("renders a template's lookup with nothing found: helm has no cluster to ask", async () => {
    const r = await cli(["build", "clusters/dev", "--repo", fleet(appRelease()), "--render-helm"]);
    expect(r.code).toBe(0);
    const cm = docs(r.out).find((o) => o.metadata.name === "app-lookup") as unknown as {
      data: Record<string, string>;
    };
    expect(cm.data.found).toBe("no");
  });

  it("leaves a valuesFrom Secret out with a note naming the field; an optional one without a note", async () => {
    const extra = `  valuesFrom:
    - kind: Secret
      name: app-values
    - kind: ConfigMap
      name: maybe
      optional: true
`;
    const r = await cli(["build", "clusters/dev", "--repo", fleet(appRelease(extra)), "--render-helm"]);
    expect(r.code).toBe(0);
    expect(r.err).toContain(
      "note: HelmRelease apps/app: rendered without spec.valuesFrom[0] (Secret/apps/app-values)",
    );
    expect(r.err).not.toContain("valuesFrom[1]");
    expect(docs(r.out).some((o) => o.kind === "Deployment")).toBe(true);
  });

  it("without --render-helm prints the HelmRelease only", async () => {
    const r = await cli(["build", "clusters/dev", "--repo", fleet(appRelease())]);
    expect(r.code).toBe(0);
    const kinds = docs(r.out).map((o) => o.kind);
    expect(kinds).toContain("HelmRelease");
    expect(kinds).not.toContain("Deployment");
    expect(r.out).not.toContain("# Source:");
  });

  it("-o json lists each HelmRelease with its rendered objects", async () => {
    const r = await cli([
      "build",
      "clusters/dev",
      "--repo",
      fleet(appRelease()),
      "--render-helm",
      "-o",
      "json",
    ]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as TreeResultJson;
    expect(json.succeeded).toBe(true);
    expect(json.helmReleases).toHaveLength(1);
    const hr = json.helmReleases[0];
    expect(hr).toMatchObject({
      name: "app",
      namespace: "apps",
      file: "./apps (built by Kustomization flux-system/apps)",
      chart: "demo",
      version: "1.2.0",
      status: "Rendered",
    });
    expect(hr?.objects?.map((o) => o.kind)).toEqual(expect.arrayContaining(["Deployment", "Secret"]));
    expect(JSON.stringify(hr?.objects)).not.toContain("s3cr3t-t0ken-value");
  });

  it("a version no chart matches names the HelmRelease and spec.chart.spec.version; exit 2", async () => {
    const release = helmReleaseYaml({ name: "app", namespace: "apps", version: "9.x" });
    const r = await cli(["build", "clusters/dev", "--repo", fleet(release), "--render-helm"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      "(built by Kustomization flux-system/apps): HelmRelease/apps/app: spec.chart.spec.version:",
    );
    expect(r.err).toContain('no version of chart "demo" matches "9.x"');
    expect(r.out).toBe("");
  });

  it("a chart not in the repository names spec.chart.spec.chart; exit 2 (json: Failed)", async () => {
    const release = helmReleaseYaml({ name: "app", namespace: "apps", chart: "missing" });
    const r = await cli(["build", "clusters/dev", "--repo", fleet(release), "--render-helm", "-o", "json"]);
    expect(r.code).toBe(2);
    const json = JSON.parse(r.out) as TreeResultJson;
    expect(json.succeeded).toBe(false);
    expect(json.helmReleases[0]?.status).toBe("Failed");
    expect(json.helmReleases[0]?.message).toContain("HelmRelease/apps/app: spec.chart.spec.chart:");
  });

  it("a template error carries helm's message; exit 2", async () => {
    const release = helmReleaseYaml({ name: "app", namespace: "apps", chart: "broken" });
    const r = await cli(["build", "clusters/dev", "--repo", fleet(release), "--render-helm"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("HelmRelease/apps/app: helm template of chart broken@0.1.0 failed:");
    expect(r.err).toContain("broken: .Values.needed is required");
  });

  it("renders a HelmRelease placed directly in the cluster path (no Kustomization prints it)", async () => {
    const repo = makeRepo({
      "clusters/dev/charts.yaml": helmRepositoryYaml("charts", "apps", charts.url),
      "clusters/dev/app.yaml": helmReleaseYaml({
        name: "root",
        namespace: "apps",
        extra: "  values:\n    deployment: true\n    replicas: 5\n",
      }),
    });
    const r = await cli(["build", "clusters/dev", "--repo", repo, "--render-helm"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("# Source: HelmRelease apps/root chart demo@1.2.0");
    const deployment = docs(r.out).find((o) => o.kind === "Deployment") as unknown as {
      spec: { replicas: number };
    };
    expect(deployment.spec.replicas).toBe(5);
  });

  it("applies a HelmRelease's chart valuesFiles as a reconcile does (a chart directory from this repository)", async () => {
    const repo = makeRepo({
      "clusters/dev/app.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: layered
  namespace: apps
spec:
  interval: 10m
  chart:
    spec:
      chart: ./charts/layered
      sourceRef:
        kind: GitRepository
        name: flux-system
        namespace: flux-system
      valuesFiles:
        - charts/layered/values.yaml
        - charts/layered/values-prod.yaml
`,
      "charts/layered/Chart.yaml": "apiVersion: v2\nname: layered\nversion: 0.3.0\n",
      "charts/layered/values.yaml": "greeting: hello\nreplicas: 1\n",
      "charts/layered/values-prod.yaml": "replicas: 4\n",
      "charts/layered/templates/cm.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: layered\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  replicas: {{ .Values.replicas | quote }}\n",
    });
    const r = await cli(["build", "clusters/dev", "--repo", repo, "--render-helm"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const cm = docs(r.out).find(
      (o) => o.kind === "ConfigMap" && o.metadata.name === "layered",
    ) as unknown as {
      data: Record<string, string>;
    };
    expect(cm.data).toEqual({ greeting: "hello", replicas: "4" });
  });

  it("diff and reconcile take no --render-helm", async () => {
    const r = await cli(["diff", "clusters/dev", "--repo", fleet(appRelease()), "--render-helm"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("diff takes no --render-helm");
  });
});
