// The cluster path is Flux's root: what bootstrap's `flux-system` Kustomization would apply. Plain objects
// placed directly there (Namespaces, RBAC, a ConfigMap of cluster variables) are applied and pruned under
// the root Kustomization's own inventory — the bootstrap Kustomization when the repository declares it
// (gotk-sync.yaml), else one named `flux-system/flux-system` as bootstrap writes it. Flux's own install
// (gotk-components.yaml: its controllers and CRDs) is recognised and left out with one note, unless the
// operator opts in: the bot reconciles in Flux's place and must not start Flux's controllers beside itself.
import type { KubernetesObject } from "@kubernetes/client-node";
import { type FluxKustomization, isKustomization, parseKustomization } from "../flux/kustomization.js";
import type { SourcedObject } from "../flux/manifests.js";

export const ROOT_NAME = "flux-system";

/** Flux's install manifests: the file bootstrap writes, or the labels `flux install` puts on every object. */
export function isFluxInstall(object: KubernetesObject, file: string): boolean {
  if (/(^|\/)gotk-components\.ya?ml$/.test(file)) return true;
  const labels = object.metadata?.labels ?? {};
  return (
    labels["app.kubernetes.io/part-of"] === "flux" && labels["app.kubernetes.io/instance"] === "flux-system"
  );
}

export interface RootObjects {
  /** Plain objects of the cluster path, applied by the root Kustomization. */
  objects: KubernetesObject[];
  /** Objects of Flux's install left out, by file (for the note). */
  fluxInstall: Map<string, number>;
}

/** Sorts the cluster path's plain objects into what the root applies and Flux's install. */
export function splitRootObjects(plain: readonly SourcedObject[], applyFluxInstall: boolean): RootObjects {
  const out: RootObjects = { objects: [], fluxInstall: new Map() };
  for (const { object, file } of plain) {
    if (!applyFluxInstall && isFluxInstall(object, file)) {
      out.fluxInstall.set(file, (out.fluxInstall.get(file) ?? 0) + 1);
      continue;
    }
    out.objects.push(object);
  }
  return out;
}

export function fluxInstallNote(fluxInstall: Map<string, number>): string | undefined {
  if (fluxInstall.size === 0) return undefined;
  const count = [...fluxInstall.values()].reduce((a, b) => a + b, 0);
  return `${[...fluxInstall.keys()].join(", ")}: Flux's own install (${count} objects) is not applied: gitops-bot reconciles in Flux's place (operator option fluxInstall: apply applies it)`;
}

/** The root Kustomization: the bootstrap one the repository declares, else the one bootstrap would write. */
export function rootKustomization(
  bootstrap: FluxKustomization | undefined,
  clusterPath: string,
  selfSourceName = ROOT_NAME,
): FluxKustomization {
  if (bootstrap) return bootstrap;
  return parseKustomization(
    {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name: ROOT_NAME, namespace: ROOT_NAME },
      spec: {
        interval: "10m",
        path: `./${clusterPath.replace(/^\.\//, "")}`,
        prune: true,
        sourceRef: { kind: "GitRepository", name: selfSourceName },
      },
    } as KubernetesObject,
    clusterPath,
  );
}

/**
 * The root Kustomization for `build` when the cluster path holds only Flux objects (no plain object, so no
 * inventory is planned): what `flux build kustomization flux-system` prints is those objects. The bootstrap
 * Kustomization among them (its path is the cluster path) names the root; else the one bootstrap writes.
 */
export function rootForBuild(
  clusterPath: string,
  fluxObjects: readonly KubernetesObject[],
  selfSourceName = ROOT_NAME,
): FluxKustomization {
  const normal = (path: string | undefined) => (path ?? "").replace(/^\.\//, "").replace(/\/+$/, "");
  const bootstrap = fluxObjects.find(
    (o) =>
      isKustomization(o) &&
      normal((o as { spec?: { path?: string } }).spec?.path) === normal(clusterPath) &&
      (o as { spec?: { sourceRef?: { name?: string } } }).spec?.sourceRef?.name === selfSourceName,
  );
  return bootstrap
    ? parseKustomization(bootstrap, clusterPath)
    : rootKustomization(undefined, clusterPath, selfSourceName);
}
