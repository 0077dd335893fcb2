// A fleet in the shape of Flux 2.7's kustomize-helm example (our own files): clusters/staging holds an
// ArtifactGenerator over this repository that carves out two artifacts, infrastructure and apps, and one
// Kustomization on each ExternalArtifact.
import { makeRepo } from "../support/repo-tree.js";

export function generatorYaml(opts: { name?: string; sources?: string; artifacts: string }): string {
  return `apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata:
  name: ${opts.name ?? "fleet"}
  namespace: flux-system
spec:
  sources:
${opts.sources ?? "    - alias: repo\n      kind: GitRepository\n      name: flux-system"}
  artifacts:
${opts.artifacts}
`;
}

export function externalKustomization(name: string, path: string, extra = ""): string {
  return `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: ${name}
  namespace: flux-system
spec:
  interval: 10m
  prune: true
  path: ${path}
  sourceRef:
    kind: ExternalArtifact
    name: ${name}
${extra}`;
}

const cm = (name: string, ns: string, data: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: ${ns}\ndata:\n  ${data}\n`;

export function fleetFiles(ns: string, color = "blue"): Record<string, string> {
  return {
    "clusters/staging/generator.yaml": generatorYaml({
      artifacts: `    - name: infrastructure
      originRevision: "@repo"
      copy:
        - from: "@repo/infrastructure/**"
          to: "@artifact/"
    - name: apps
      copy:
        - from: "@repo/apps/base/**"
          to: "@artifact/base/"
          exclude: ["*.md"]
        - from: "@repo/apps/staging/**"
          to: "@artifact/staging/"`,
    }),
    "clusters/staging/infrastructure.yaml": externalKustomization("infrastructure", "./controllers"),
    "clusters/staging/apps.yaml": externalKustomization(
      "apps",
      "./staging",
      "  dependsOn:\n    - name: infrastructure\n",
    ),
    "infrastructure/controllers/kustomization.yaml": "resources:\n  - settings.yaml\n",
    "infrastructure/controllers/settings.yaml": cm("infra-settings", ns, "tier: infrastructure"),
    "apps/base/kustomization.yaml": "resources:\n  - podinfo.yaml\n",
    "apps/base/podinfo.yaml": cm("podinfo", ns, `color: ${color}`),
    "apps/base/README.md": "# not part of the artifact\n",
    "apps/staging/kustomization.yaml": "resources:\n  - ../base\n  - staging.yaml\n",
    "apps/staging/staging.yaml": cm("staging-values", ns, "env: staging"),
  };
}

export function makeFleet(ns: string, color?: string): string {
  return makeRepo(fleetFiles(ns, color));
}
