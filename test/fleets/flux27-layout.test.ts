// The Flux 2.7 layout of flux2-kustomize-helm-example in shape (the fixture of test/source/artifact-generator-
// fixture.ts: an ArtifactGenerator carving infrastructure and apps artifacts out of the repository, one
// Kustomization on each ExternalArtifact), with a HelmRepository on a local Helm repository and a HelmRelease in
// apps/base as the example has: `build`, `diff` and `reconcile` show and apply, per Kustomization, the objects
// Flux would apply; a change and a removal in Git are diffed, applied and pruned.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { fleetFiles } from "../source/artifact-generator-fixture.js";
import {
  type HelmRepoServer,
  helmReleaseYaml,
  helmRepositoryYaml,
  startHelmRepo,
} from "../support/helm-repo.js";
import { createNamespace, exists, testObjectApi, uniqueName } from "../support/kube.js";
import { makeRepo, writeTree } from "../support/repo-tree.js";
import { cli, inFluxNamespace } from "./classic-fleet-fixture.js";

let charts: HelmRepoServer;
beforeAll(async () => {
  charts = await startHelmRepo();
  await charts.addChart({ name: "podinfo", version: "6.0.0" });
  process.env.GITOPS_BOT_CACHE_DIR = mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-"));
});
afterAll(() => charts?.stop());

/** The fixture's files with its Flux objects in `fluxNs` (a Kustomization's namespace/name has one owner per
 *  cluster; test/source/artifact-generator-fleet.test.ts reconciles the same fleet in flux-system). */
function flux27Files(ns: string, fluxNs: string, color?: string): Record<string, string> {
  return inFluxNamespace(
    {
      ...fleetFiles(ns, color),
      "apps/base/kustomization.yaml": "resources:\n  - podinfo.yaml\n  - release.yaml\n",
      "apps/base/release.yaml": `${helmRepositoryYaml("podinfo", ns, charts.url)}---\n${helmReleaseYaml({
        name: "podinfo",
        namespace: ns,
        chart: "podinfo",
        version: "6.x",
        repo: "podinfo",
      })}`,
    },
    fluxNs,
  );
}

function flux27Fleet(ns: string, fluxNs = "flux-system"): string {
  return makeRepo(flux27Files(ns, fluxNs));
}

interface RunJson {
  errors: string[];
  kustomizations: Array<{
    name: string;
    status: string;
    changes: Array<{ subject: string; action: string }>;
  }>;
  helmReleases?: Array<{ name: string; namespace: string; file: string; status: string; action: string }>;
}

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

describe("Flux 2.7 layout (ArtifactGenerator + ExternalArtifact)", () => {
  it("build lists every object each Kustomization on an ExternalArtifact applies", async () => {
    const repo = flux27Fleet("demo");
    const got = await cli(["build", "clusters/staging", "--repo", repo, "-o", "json"]);
    expect({ code: got.code, err: got.err }).toEqual({ code: 0, err: "" });
    const result = JSON.parse(got.out) as {
      kustomizations: Array<{ name: string; objects: Array<{ kind: string; metadata: { name: string } }> }>;
    };
    const lists = Object.fromEntries(
      result.kustomizations.map((k) => [k.name, k.objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()]),
    );
    // What each artifact's manifests declare: infrastructure ← infrastructure/**, apps ← apps/base/** (no
    // README) under base/ and apps/staging/** under staging/, built at ./staging.
    expect(lists).toEqual({
      // The cluster path itself, as Flux's flux-system Kustomization applies it.
      "flux-system": ["ArtifactGenerator/fleet", "Kustomization/apps", "Kustomization/infrastructure"],
      infrastructure: ["ConfigMap/infra-settings"],
      apps: [
        "ConfigMap/podinfo",
        "ConfigMap/staging-values",
        "HelmRelease/podinfo",
        "HelmRepository/podinfo",
      ],
    });
  });

  it("diff plans, reconcile applies and prunes, per Kustomization, what Flux would", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "f27");
    const fluxNs = `${ns}-flux`;
    const repo = flux27Fleet(ns, fluxNs);
    const common = ["--repo", repo, "--kubeconfig", inject("kubeconfigPath"), "--scope", uniqueName("scope")];
    const expected = {
      infrastructure: [`ConfigMap/${ns}/infra-settings`],
      apps: [`ConfigMap/${ns}/podinfo`, `ConfigMap/${ns}/staging-values`, `HelmRelease/${ns}/podinfo`],
    };

    const diff = await cli(["diff", "clusters/staging", ...common, "-o", "json"]);
    expect({ code: diff.code, err: diff.err }).toEqual({ code: 1, err: "" });
    const planned = JSON.parse(diff.out) as RunJson;
    expect(planned.errors).toEqual([]);
    expect(perKustomization(planned, fluxNs, ["created"])).toEqual(expected);

    const applied = await cli(["reconcile", "clusters/staging", ...common, "-o", "json"]);
    expect({ code: applied.code, err: applied.err }).toEqual({ code: 0, err: "" });
    const run = JSON.parse(applied.out) as RunJson;
    expect(run.errors).toEqual([]);
    expect(perKustomization(run, fluxNs, ["created"])).toEqual(expected);
    expect(run.kustomizations.map((k) => `${k.name}:${k.status}`).sort()).toEqual([
      "apps:Ready",
      "infrastructure:Ready",
    ]);
    expect(run.helmReleases?.map((h) => `${h.name}:${h.status}:${h.action}`)).toEqual([
      "podinfo:Ready:installed",
    ]);
    const data = async (name: string) =>
      (
        (await api.read({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns } })) as {
          data?: Record<string, string>;
        }
      ).data;
    expect(await data("podinfo")).toEqual({ color: "blue" });
    expect(await data("podinfo-config")).toEqual({ color: "blue", chartVersion: "6.0.0" });

    expect((await cli(["diff", "clusters/staging", ...common, "-q"])).code).toBe(0);

    // Git changes a value in the base and drops the staging values: configured and pruned, in the apps artifact.
    writeTree(repo, {
      ...flux27Files(ns, fluxNs, "green"),
      "apps/staging/kustomization.yaml": "resources:\n  - ../base\n",
      "apps/staging/staging.yaml": null,
    });
    const changed = await cli(["diff", "clusters/staging", ...common, "-o", "json"]);
    expect(changed.code).toBe(1);
    const plan2 = JSON.parse(changed.out) as RunJson;
    const apps = plan2.kustomizations.find((k) => k.name === "apps");
    expect(Object.fromEntries((apps?.changes ?? []).map((c) => [c.subject, c.action]))).toMatchObject({
      [`ConfigMap/${ns}/podinfo`]: "configured",
      [`ConfigMap/${ns}/staging-values`]: "deleted",
    });
    expect((await cli(["reconcile", "clusters/staging", ...common, "-q"])).code).toBe(0);
    expect((await data("podinfo"))?.color).toBe("green");
    expect(await exists(api, "v1", "ConfigMap", "staging-values", ns)).toBe(false);
    expect(await exists(api, "v1", "ConfigMap", "infra-settings", ns)).toBe(true);
  }, 240_000);
});
