// The Flux API kinds the bot reports, with the group and version kube-state-metrics would put on
// gotk_resource_info (customresource_group / customresource_version) and the controller-runtime controller name
// Flux's controllers register (the `controller` label of controller_runtime_*).

export interface FluxKindInfo {
  group: string;
  version: string;
  controller: string;
}

export const FLUX_KINDS = {
  Kustomization: { group: "kustomize.toolkit.fluxcd.io", version: "v1", controller: "kustomization" },
  HelmRelease: { group: "helm.toolkit.fluxcd.io", version: "v2", controller: "helmrelease" },
  GitRepository: { group: "source.toolkit.fluxcd.io", version: "v1", controller: "gitrepository" },
  HelmRepository: { group: "source.toolkit.fluxcd.io", version: "v1", controller: "helmrepository" },
  OCIRepository: { group: "source.toolkit.fluxcd.io", version: "v1", controller: "ocirepository" },
  Bucket: { group: "source.toolkit.fluxcd.io", version: "v1", controller: "bucket" },
  HelmChart: { group: "source.toolkit.fluxcd.io", version: "v1", controller: "helmchart" },
  ImageRepository: { group: "image.toolkit.fluxcd.io", version: "v1beta2", controller: "imagerepository" },
  ImagePolicy: { group: "image.toolkit.fluxcd.io", version: "v1beta2", controller: "imagepolicy" },
  ImageUpdateAutomation: {
    group: "image.toolkit.fluxcd.io",
    version: "v1beta2",
    controller: "imageupdateautomation",
  },
} as const satisfies Record<string, FluxKindInfo>;

export type FluxKind = keyof typeof FLUX_KINDS;

export function isFluxKind(kind: string): kind is FluxKind {
  return Object.hasOwn(FLUX_KINDS, kind);
}

/**
 * Flux's buckets for gotk_reconcile_duration_seconds (fluxcd/pkg runtime/metrics:
 * `prometheus.ExponentialBucketsRange(10e-3, 1800, 10)`): ten buckets from 10 ms to 30 minutes.
 */
export function exponentialBucketsRange(min: number, max: number, count: number): number[] {
  const factor = (max / min) ** (1 / (count - 1));
  return Array.from({ length: count }, (_, i) => min * factor ** i);
}

export const FLUX_DURATION_BUCKETS = exponentialBucketsRange(10e-3, 1800, 10);
