// Attacks on `gitops-bot build --render-helm` (issue #14): a repository's chart tries to read the cluster and the
// host while build renders it. build never reads the cluster — helm runs in a session with no kubeconfig, even
// when the user's KUBECONFIG names a live cluster with admin rights — and a chart sees only its own files.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { renderReleasesOffline, withChartResolver } from "../../src/cli/render-helm.js";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { defaultPlanOptions } from "../../src/reconcile/plan.js";
import { cli } from "../support/cli.js";
import {
  type HelmRepoServer,
  helmReleaseYaml,
  helmRepositoryYaml,
  startHelmRepo,
  writeChart,
} from "../support/helm-repo.js";
import { createNamespace, testObjectApi, uniqueName } from "../support/kube.js";
import { fluxKustomization, makeRepo } from "../support/repo-tree.js";

const thiefTemplate = `{{- $all := lookup "v1" "Secret" "kube-system" "" }}
{{- $one := lookup "v1" "Secret" .Values.canaryNamespace "canary" }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-loot
data:
  all: {{ toJson $all | quote }}
  one: {{ toJson $one | quote }}
  relative: {{ .Files.Get "../../../etc/passwd" | quote }}
  absolute: {{ .Files.Get "/etc/passwd" | quote }}
  glob: {{ range $path, $_ := .Files.Glob "**" }}{{ $path }} {{ end }}
`;

const canary = `canary-${randomBytes(12).toString("hex")}`;
const canaryB64 = Buffer.from(canary).toString("base64");
const passwd = readFileSync("/etc/passwd", "utf8").split("\n")[0] as string;

let charts: HelmRepoServer;
let canaryNamespace: string;
let api: RawObjectApi;

async function createSecret(ns: string, name: string, data: Record<string, string>) {
  await api.create({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: ns },
    stringData: data,
  } as Parameters<RawObjectApi["create"]>[0]);
}

beforeAll(async () => {
  // The user's shell points at a live cluster where the chart's lookups would find the canary.
  process.env.KUBECONFIG = inject("kubeconfigPath");
  process.env.GITOPS_BOT_CACHE_DIR = mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-"));
  api = testObjectApi();
  canaryNamespace = await createNamespace(api, "renderhelm");
  await createSecret(canaryNamespace, "canary", { token: canary });
  await createSecret("kube-system", uniqueName("canary"), { token: canary });
  await createSecret(canaryNamespace, "app-values", { "values.yaml": `stolen: ${canary}\n` });
  charts = await startHelmRepo();
  await charts.addChart({ name: "thief", version: "0.1.0", templates: { "loot.yaml": thiefTemplate } });
  await charts.addChart({
    name: "flood",
    version: "0.1.0",
    templates: {
      "flood.yaml":
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: flood\ndata:\n{{- range $i := until 200000 }}\n  k{{ $i }}: "{{ repeat 64 "x" }}"\n{{- end }}\n',
    },
  });
});
afterAll(() => charts?.stop());

function fleet(release: string, repoUrl = charts.url, extra: Record<string, string> = {}): string {
  return makeRepo({
    "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
    "apps/kustomization.yaml":
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - repo.yaml\n  - release.yaml\n",
    "apps/repo.yaml": helmRepositoryYaml("charts", canaryNamespace, repoUrl),
    "apps/release.yaml": release,
    ...extra,
  });
}

const thief = (extra = "") =>
  helmReleaseYaml({
    name: "thief",
    namespace: canaryNamespace,
    chart: "thief",
    extra: `  values:\n    canaryNamespace: ${canaryNamespace}\n${extra}`,
  });

function expectNoLoot(text: string): void {
  expect(text).not.toContain(canary);
  expect(text).not.toContain(canaryB64);
  expect(text).not.toContain(passwd);
}

describe("build --render-helm attacks", () => {
  it("a chart's lookup of kube-system Secrets and .Files.Get outside the chart render nothing", async () => {
    const started = Date.now();
    const r = await cli(["build", "clusters/dev", "--repo", fleet(thief()), "--render-helm"]);
    expect(r.err).not.toContain("gitops-bot build:");
    expect(r.code).toBe(0);
    expectNoLoot(r.out + r.err);
    expect(r.out).toContain("# Source: HelmRelease");
    // lookup answers an empty map without a cluster; Files has only the chart's own files.
    expect(r.out).toContain('all: "{}"');
    expect(r.out).toContain('one: "{}"');
    expect(r.out).toContain(`relative: ""`);
    expect(r.out).toContain(`absolute: ""`);
    expect(r.out).not.toMatch(/glob: .*passwd/);
    expect(Date.now() - started).toBeLessThan(60_000);

    const json = await cli([
      "build",
      "clusters/dev",
      "--repo",
      fleet(thief()),
      "--render-helm",
      "-o",
      "json",
    ]);
    expect(json.code).toBe(0);
    expectNoLoot(json.out + json.err);
  });

  it("a valuesFrom Secret that exists in the cluster is never read: a note, not its value", async () => {
    const release = thief(`  valuesFrom:\n    - kind: Secret\n      name: app-values\n`);
    const r = await cli(["build", "clusters/dev", "--repo", fleet(release), "--render-helm"]);
    expect(r.code).toBe(0);
    expectNoLoot(r.out + r.err);
    expect(r.err).toContain(`spec.valuesFrom[0] (Secret/${canaryNamespace}/app-values)`);
  });

  it("a chart directory in the repository linking to /etc/passwd is refused, naming the file", async () => {
    const release = helmReleaseYaml({
      name: "local",
      namespace: canaryNamespace,
      chart: "./charts/local",
      sourceKind: "GitRepository",
      repo: "flux-system",
    });
    const repo = fleet(release);
    const chart = writeChart(join(repo, "charts"), {
      name: "local",
      version: "1.0.0",
      templates: {
        "leak.yaml":
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  passwd: {{ .Files.Get "passwd" | quote }}\n',
      },
    });
    symlinkSync("/etc/passwd", join(chart, "passwd"));
    const r = await cli(["build", "clusters/dev", "--repo", repo, "--render-helm"]);
    expect(r.code).toBe(2);
    expectNoLoot(r.out + r.err);
    // Refused when the repository is copied for the build, before any chart is read.
    expect(r.err).toContain("charts/local/passwd: symlink leads outside the repository");
  });

  it("a HelmRepository at the cloud metadata address is refused by the outbound policy", async () => {
    const r = await cli([
      "build",
      "clusters/dev",
      "--repo",
      fleet(thief(), "http://169.254.169.254/latest/meta-data"),
      "--render-helm",
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`HelmRelease/${canaryNamespace}/thief: spec.chart.spec.sourceRef:`);
    expect(r.err).toContain("169.254.169.254");
    expectNoLoot(r.out + r.err);
  });

  it("a chart that renders a flood of output is stopped at helm's output cap, naming the HelmRelease", async () => {
    const release = helmReleaseYaml({ name: "flood", namespace: canaryNamespace, chart: "flood" });
    const repo = fleet(release);
    const started = Date.now();
    const notes: string[] = [];
    const rendered = await withChartResolver(
      { ...defaultPlanOptions("clusters/dev"), repoDir: repo },
      (plan, resolver) =>
        renderReleasesOffline(
          plan.helmReleases.map((p) => ({ hr: p.hr })),
          resolver,
          notes,
          { limits: { maxOutputBytes: 256 * 1024 } },
        ),
    );
    const error = rendered.get(`${canaryNamespace}/flood`)?.error ?? "";
    expect(error).toContain(
      `HelmRelease/${canaryNamespace}/flood: helm template of chart flood@0.1.0 failed:`,
    );
    expect(error).toContain(`printed more than ${256 * 1024} bytes; stopped`);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it("build takes no cluster flags, so nothing can hand helm a kubeconfig", async () => {
    const r = await cli([
      "build",
      "clusters/dev",
      "--repo",
      fleet(thief()),
      "--render-helm",
      "--kubeconfig",
      inject("kubeconfigPath"),
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("build takes no --kubeconfig");
  });
});
