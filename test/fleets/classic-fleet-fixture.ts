// A fleet in the shape of flux2-kustomize-helm-example's classic layout (own fixture files): a bootstrapped
// cluster path with infrastructure and apps Kustomizations, HelmRepositories and HelmReleases inside their
// builds, a staging overlay over a base, cluster variables substituted.
import { main } from "../../src/cli/main.js";
import { makeRepo } from "../support/repo-tree.js";

const helmStack = (name: string, ns: string, chart: string, url: string) => `apiVersion: v1
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
  url: ${url}
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

export interface ClassicFleetOptions {
  /** Prefixes the fleet's namespaces (ingress-nginx, cert-manager, podinfo), to run it beside other tests. */
  prefix?: string;
  /** The Helm repository every HelmRepository points at; `https://charts.example.com/<name>` by default. */
  chartsUrl?: string;
  /** Where the Flux objects (Kustomizations, GitRepository) live; `flux-system` by default. A Kustomization's
   *  namespace/name is one owner in a cluster, so runs in parallel on one API server each need their own. */
  fluxNamespace?: string;
}

/** `files` with every `namespace: flux-system` of its Flux objects moved to `namespace`. */
export function inFluxNamespace(files: Record<string, string>, namespace: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(files).map(([path, text]) => [
      path,
      text.replaceAll(/^(\s+)namespace: flux-system$/gm, `$1namespace: ${namespace}`),
    ]),
  );
}

/** The namespaces the fleet's Kustomizations create, with `prefix`. */
export function classicNamespaces(prefix = "") {
  return {
    ingress: `${prefix}ingress-nginx`,
    certManager: `${prefix}cert-manager`,
    podinfo: `${prefix}podinfo`,
  };
}

export function classicFleet(opts: ClassicFleetOptions = {}): string {
  const ns = classicNamespaces(opts.prefix);
  const url = (name: string) => opts.chartsUrl ?? `https://charts.example.com/${name}`;
  const files: Record<string, string> = {
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
      ns.ingress,
      "ingress-nginx",
      url("ingress-nginx"),
    ),
    "infrastructure/controllers/cert-manager.yaml": helmStack(
      "cert-manager",
      ns.certManager,
      "cert-manager",
      url("cert-manager"),
    ),
    "infrastructure/configs/kustomization.yaml":
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - cluster-issuers.yaml\n",
    "infrastructure/configs/cluster-issuers.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-issuers\n  namespace: ${ns.certManager}\ndata:\n  issuer: letsencrypt-staging\n`,
    "apps/base/podinfo/kustomization.yaml":
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - podinfo.yaml\n",
    "apps/base/podinfo/podinfo.yaml": helmStack("podinfo", ns.podinfo, "podinfo", url("podinfo")),
    "apps/staging/kustomization.yaml":
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../base/podinfo\npatches:\n  - path: podinfo-values.yaml\n    target:\n      kind: HelmRelease\n",
    "apps/staging/podinfo-values.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\n  namespace: ${ns.podinfo}\nspec:\n  values:\n    replicaCount: 2\n`,
  };
  return makeRepo(opts.fluxNamespace ? inFluxNamespace(files, opts.fluxNamespace) : files);
}

/** Runs the CLI as a user would, capturing its output. */
export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, {
    out: {
      write: (s: string) => {
        out += s;
      },
    },
    err: {
      write: (s: string) => {
        err += s;
      },
    },
  });
  return { code, out, err };
}
