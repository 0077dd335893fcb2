// What the operator's `security` section and a repository's grant mean for one run of the engine: the
// tenancy policy, kustomize and helm bounds, source timeouts and the outbound policy. Remote kustomize
// resources only when the operator allows them, and never for a fork's pull request.
import { type RepositoryGrant, securityLimits } from "../../config/operator-config.js";
import type { ReconcileOptions } from "../../reconcile/run.js";
import { tenancyFromGrant } from "../../reconcile/tenancy.js";
import { createOutboundPolicy } from "../../util/outbound/index.js";
import type { JobDeps } from "./types.js";

export function engineOptions(
  deps: Pick<JobDeps, "operator">,
  run: { grant: RepositoryGrant; repository: string; cluster: string; untrusted: boolean },
): Partial<ReconcileOptions> {
  const security = deps.operator.security;
  const limits = securityLimits(security);
  return {
    tenancy: tenancyFromGrant(run.grant, run.repository, run.cluster),
    kustomize: {
      timeoutMs: limits.maxBuildTimeMs,
      allowRemoteResources: security.remoteKustomizeResources && !run.untrusted,
      outbound: createOutboundPolicy(security.outbound),
    },
    helmLimits: { renderTimeoutMs: limits.maxBuildTimeMs, maxReleaseTimeoutMs: limits.maxReleaseTimeoutMs },
    maxSourceTimeoutMs: limits.maxSourceTimeoutMs,
    outbound: createOutboundPolicy(security.outbound),
    untrusted: run.untrusted,
    remoteClusters: security.remoteClusters,
    applyFluxInstall: deps.operator.fluxInstall === "apply",
    drift: deps.operator.clusters.find((c) => c.name === run.cluster)?.drift ?? "correct",
  };
}
