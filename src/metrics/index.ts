// The metrics layer's public face: the registry with its definitions, and the adapters that feed it.
export { FLUX_DURATION_BUCKETS, FLUX_KINDS } from "./flux-kinds.js";
export { githubMetricsPlugin, githubRouteClass } from "./github-requests.js";
export {
  DEFAULT_RECONCILE_INTERVAL_SECONDS,
  type GitHubRequest,
  GitOpsMetrics,
  type ImageScan,
  type ImageScanResultLike,
  type KubeRequest,
  type MetricsOptions,
  type RunMeta,
  type SourceFetch,
} from "./metrics.js";
