// A fleet in the shape of flux2-kustomize-helm-example's classic layout (own fixture files): a bootstrapped
// cluster path with infrastructure and apps Kustomizations, HelmRepositories and HelmReleases inside their
// builds, a staging overlay over a base, cluster variables substituted. `gitops-bot build` must print what
// `flux build kustomization` prints for each: HelmRepositories and HelmReleases included.
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { main } from "../../src/cli/main.js";
import { makeRepo } from "../support/repo-tree.js";

const helmStack = (name: string, ns: string, chart: string) => `apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  interval: 24h
  url: https://charts.example.com/${name}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  interval: 30m
  chart:
    spec:
      chart: ${chart}
      version: "1.x"
      sourceRef:
        kind: HelmRepository
        name: ${name}
  values:
    region: \${cluster_region}
`;

const ks = (name: string, path: string, extra = "") => `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: ${name}
  namespace: flux-system
spec:
  interval: 1h
  path: ${path}
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
${extra}`;

const substitute = "  postBuild:\n    substitute:\n      cluster_region: eu-west-1\n";

function classicFleet(): string {
  return makeRepo({
    "clusters/staging/flux-system/kustomization.yaml":
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - gotk-components.yaml\n  - gotk-sync.yaml\n",
    "clusters/staging/flux-system/gotk-components.yaml":
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n  labels:\n    app.kubernetes.io/instance: flux-system\n    app.kubernetes.io/part-of: flux\n",
    "clusters/staging/flux-system/gotk-sync.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m
  url: https://github.com/example/fleet
  ref: {branch: main}
---
${ks("flux-system", "./clusters/staging")}`,
    "clusters/staging/infrastructure.yaml": `${ks("infra-controllers", "./infrastructure/controllers", `  wait: true\n${substitute}`)}---
${ks("infra-configs", "./infrastructure/configs", "  dependsOn:\n    - name: infra-controllers\n")}`,
    "clusters/staging/apps.yaml": ks(
      "apps",
      "./apps/staging",
      `  dependsOn:\n    - name: infra-configs\n${substitute}`,
    ),
    "infrastructure/controllers/kustomization.yaml":
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ingress-nginx.yaml\n  - cert-manager.yaml\n",
    "infrastructure/controllers/ingress-nginx.yaml": helmStack(
      "ingress-nginx",
      "ingress-nginx",
      "ingress-nginx",
    ),
    "infrastructure/controllers/cert-manager.yaml": helmStack("cert-manager", "cert-manager", "cert-manager"),
    "infrastructure/configs/kustomization.yaml":
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - cluster-issuers.yaml\n",
    "infrastructure/configs/cluster-issuers.yaml":
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-issuers\n  namespace: cert-manager\ndata:\n  issuer: letsencrypt-staging\n",
    "apps/base/podinfo/kustomization.yaml":
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - podinfo.yaml\n",
    "apps/base/podinfo/podinfo.yaml": helmStack("podinfo", "podinfo", "podinfo"),
    "apps/staging/kustomization.yaml":
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../base/podinfo\npatches:\n  - path: podinfo-values.yaml\n    target:\n      kind: HelmRelease\n",
    "apps/staging/podinfo-values.yaml":
      "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\n  namespace: podinfo\nspec:\n  values:\n    replicaCount: 2\n",
  });
}

async function cli(args: string[]) {
  let out = "";
  let err = "";
  const code = await main(args, {
    out: { write: (s: string) => void (out += s) },
    err: { write: (s: string) => void (err += s) },
  } as never);
  return { code, out, err };
}

describe("classic layout", () => {
  it("build lists every object each Kustomization applies, HelmRepositories and HelmReleases included", async () => {
    const repo = classicFleet();
    const got = await cli(["build", "clusters/staging", "--repo", repo, "-o", "json"]);
    expect({ code: got.code, err: got.err, out: got.code === 0 ? "" : got.out.slice(0, 3000) }).toEqual({ code: 0, err: expect.any(String), out: "" });
    const result = JSON.parse(got.out) as {
      kustomizations: Array<{ name: string; objects: Array<{ kind: string; metadata: { name: string } }> }>;
      notes: string[];
    };
    const counts = Object.fromEntries(
      result.kustomizations.map((k) => [k.name, k.objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()]),
    );
    // What each Kustomization's manifests declare (counted from the fixture files above).
    expect(counts).toEqual({
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
    expect({ code: got.code, err: got.err, out: got.code === 0 ? "" : got.out.slice(0, 3000) }).toEqual({ code: 0, err: expect.any(String), out: "" });
    const docs = parseAllDocuments(got.out).map(
      (d) =>
        d.toJS() as { kind: string; metadata: { name: string }; spec?: { values?: Record<string, unknown> } },
    );
    const podinfo = docs.find((d) => d.kind === "HelmRelease" && d.metadata.name === "podinfo");
    expect(podinfo?.spec?.values).toEqual({ region: "eu-west-1", replicaCount: 2 });
    expect(got.out).not.toContain("${cluster_region}");
  });
});
