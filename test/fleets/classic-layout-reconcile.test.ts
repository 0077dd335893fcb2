// The classic-layout fleet (classic-fleet-fixture.ts) against the real API server: its HelmRepositories point at
// a local Helm repository serving the three charts. `diff` plans, per Kustomization, the objects Flux would apply
// (Namespaces, the ConfigMap) and the HelmReleases each Kustomization's build holds; `reconcile` applies them and
// installs the releases; a second `diff` finds nothing to do; a change in Git shows as a diff and is applied.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type HelmRepoServer, startHelmRepo } from "../support/helm-repo.js";
import { testObjectApi, uniqueName } from "../support/kube.js";
import { writeTree } from "../support/repo-tree.js";
import { classicFleet, classicNamespaces, cli } from "./classic-fleet-fixture.js";

let charts: HelmRepoServer;
beforeAll(async () => {
  charts = await startHelmRepo();
  for (const name of ["ingress-nginx", "cert-manager", "podinfo"])
    await charts.addChart({ name, version: "1.0.0" });
  process.env.GITOPS_BOT_CACHE_DIR = mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-"));
});
afterAll(() => charts?.stop());

interface RunJson {
  changed?: boolean;
  errors: string[];
  kustomizations: Array<{
    name: string;
    status: string;
    changes: Array<{ subject: string; action: string }>;
  }>;
  helmReleases?: Array<{ name: string; namespace: string; file: string; status: string; action: string }>;
  sources?: Array<{ kind: string; name: string; namespace: string; error?: string }>;
}

/** Per Kustomization: the objects it applies and the HelmReleases its build holds, sorted. */
function perKustomization(run: RunJson, fluxNs: string, actions: string[]) {
  const out: Record<string, string[]> = {};
  for (const k of run.kustomizations) {
    const objects = k.changes.filter((c) => actions.includes(c.action)).map((c) => c.subject);
    const releases = (run.helmReleases ?? [])
      .filter((h) => h.file.endsWith(`Kustomization ${fluxNs}/${k.name})`))
      .map((h) => `HelmRelease/${h.namespace}/${h.name}`);
    out[k.name] = [...objects, ...releases].sort();
  }
  return out;
}

describe("classic layout on the API server", () => {
  it("diff plans and reconcile applies what Flux would, HelmReleases from the local Helm repository", async () => {
    const prefix = `${uniqueName("cl")}-`;
    const ns = classicNamespaces(prefix);
    const fluxNs = `${prefix}flux-system`;
    const repo = classicFleet({ prefix, chartsUrl: charts.url, fluxNamespace: fluxNs });
    const common = ["--repo", repo, "--kubeconfig", inject("kubeconfigPath"), "--scope", uniqueName("scope")];
    const expected = {
      "infra-controllers": [
        `HelmRelease/${ns.certManager}/cert-manager`,
        `HelmRelease/${ns.ingress}/ingress-nginx`,
        `Namespace/${ns.certManager}`,
        `Namespace/${ns.ingress}`,
      ],
      "infra-configs": [`ConfigMap/${ns.certManager}/cluster-issuers`],
      apps: [`HelmRelease/${ns.podinfo}/podinfo`, `Namespace/${ns.podinfo}`],
    };

    const diff = await cli(["diff", "clusters/staging", ...common, "-o", "json"]);
    expect({ code: diff.code, err: diff.err, out: diff.code === 1 ? "" : diff.out.slice(0, 4000) }).toEqual({
      code: 1,
      err: "",
      out: "",
    });
    const planned = JSON.parse(diff.out) as RunJson;
    expect(planned.errors).toEqual([]);
    expect(perKustomization(planned, fluxNs, ["created"])).toEqual(expected);
    expect(planned.helmReleases?.map((h) => `${h.name}:${h.action}`).sort()).toEqual([
      "cert-manager:installed",
      "ingress-nginx:installed",
      "podinfo:installed",
    ]);
    expect(
      (planned.sources ?? [])
        .filter((s) => s.kind === "HelmRepository")
        .map((s) => `${s.namespace}/${s.name}${s.error ? ` ${s.error}` : ""}`)
        .sort(),
    ).toEqual([`${ns.certManager}/cert-manager`, `${ns.ingress}/ingress-nginx`, `${ns.podinfo}/podinfo`]);

    const applied = await cli(["reconcile", "clusters/staging", ...common, "-o", "json"]);
    expect({
      code: applied.code,
      err: applied.err,
      out: applied.code === 0 ? "" : applied.out.slice(0, 4000),
    }).toEqual({ code: 0, err: "", out: "" });
    const run = JSON.parse(applied.out) as RunJson;
    expect(run.errors).toEqual([]);
    expect(perKustomization(run, fluxNs, ["created"])).toEqual(expected);
    expect(run.kustomizations.map((k) => `${k.name}:${k.status}`).sort()).toEqual([
      "apps:Ready",
      "infra-configs:Ready",
      "infra-controllers:Ready",
    ]);
    expect(run.helmReleases?.map((h) => `${h.name}:${h.status}`).sort()).toEqual([
      "cert-manager:Ready",
      "ingress-nginx:Ready",
      "podinfo:Ready",
    ]);

    const api = testObjectApi();
    const data = async (name: string, namespace: string) =>
      (
        (await api.read({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace } })) as {
          data?: Record<string, string>;
        }
      ).data;
    expect(await data("cluster-issuers", ns.certManager)).toEqual({ issuer: "letsencrypt-staging" });
    for (const [release, namespace] of [
      ["cert-manager", ns.certManager],
      ["ingress-nginx", ns.ingress],
      ["podinfo", ns.podinfo],
    ] as const)
      expect(await data(`${release}-config`, namespace)).toEqual({ color: "blue", chartVersion: "1.0.0" });

    const again = await cli(["diff", "clusters/staging", ...common, "-q"]);
    expect({ code: again.code, out: again.out }).toMatchObject({ code: 0 });

    // A change in Git (the staging overlay sets the chart's color) is a diff of podinfo's rendered ConfigMap.
    writeTree(repo, {
      "apps/staging/podinfo-values.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\n  namespace: ${ns.podinfo}\nspec:\n  values:\n    color: green\n`,
    });
    const changed = await cli(["diff", "clusters/staging", ...common, "-q"]);
    expect(changed.code).toBe(1);
    expect(changed.out).toContain(`~ configured ConfigMap/${ns.podinfo}/podinfo-config`);
    expect(changed.out).toContain("+  color: green");
    expect((await cli(["reconcile", "clusters/staging", ...common, "-q"])).code).toBe(0);
    expect((await data("podinfo-config", ns.podinfo))?.color).toBe("green");
  }, 240_000);
});
