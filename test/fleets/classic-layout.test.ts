// A fleet in the shape of flux2-kustomize-helm-example's classic layout (own fixture files): a bootstrapped
// cluster path with infrastructure and apps Kustomizations, HelmRepositories and HelmReleases inside their
// builds, a staging overlay over a base, cluster variables substituted. `gitops-bot build` must print what
// `flux build kustomization` prints for each: HelmRepositories and HelmReleases included.
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { classicFleet, cli } from "./classic-fleet-fixture.js";

describe("classic layout", () => {
  it("build lists every object each Kustomization applies, HelmRepositories and HelmReleases included", async () => {
    const repo = classicFleet();
    const got = await cli(["build", "clusters/staging", "--repo", repo, "-o", "json"]);
    expect({ code: got.code, err: got.err, out: got.code === 0 ? "" : got.out.slice(0, 3000) }).toEqual({
      code: 0,
      err: expect.any(String),
      out: "",
    });
    const result = JSON.parse(got.out) as {
      kustomizations: Array<{ name: string; objects: Array<{ kind: string; metadata: { name: string } }> }>;
      notes: string[];
    };
    const counts = Object.fromEntries(
      result.kustomizations.map((k) => [k.name, k.objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()]),
    );
    // What each Kustomization's manifests declare (counted from the fixture files above); flux-system is the
    // cluster path itself, as `flux build kustomization flux-system` lists it (gotk-sync's objects and the rest).
    expect(counts).toEqual({
      "flux-system": [
        "GitRepository/flux-system",
        "Kustomization/apps",
        "Kustomization/flux-system",
        "Kustomization/infra-configs",
        "Kustomization/infra-controllers",
      ],
      "infra-controllers": [
        "HelmRelease/cert-manager",
        "HelmRelease/ingress-nginx",
        "HelmRepository/cert-manager",
        "HelmRepository/ingress-nginx",
        "Namespace/cert-manager",
        "Namespace/ingress-nginx",
      ],
      "infra-configs": ["ConfigMap/cluster-issuers"],
      apps: ["HelmRelease/podinfo", "HelmRepository/podinfo", "Namespace/podinfo"],
    });
    expect(result.notes.join("\n")).not.toContain("is not a Flux object");
    expect(result.notes.join("\n")).toContain("Flux's own install (1 objects) is not applied");
  });

  it("build applies inline postBuild.substitute and the overlay's patch, as a reconcile would", async () => {
    const repo = classicFleet();
    const got = await cli(["build", "clusters/staging", "--repo", repo]);
    expect({ code: got.code, err: got.err, out: got.code === 0 ? "" : got.out.slice(0, 3000) }).toEqual({
      code: 0,
      err: expect.any(String),
      out: "",
    });
    const docs = parseAllDocuments(got.out).map(
      (d) =>
        d.toJS() as { kind: string; metadata: { name: string }; spec?: { values?: Record<string, unknown> } },
    );
    const podinfo = docs.find((d) => d.kind === "HelmRelease" && d.metadata.name === "podinfo");
    expect(podinfo?.spec?.values).toEqual({ region: "eu-west-1", replicaCount: 2 });
    expect(got.out).not.toContain("${cluster_region}");
  });
});
