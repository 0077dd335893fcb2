// HelmReleases as the run loop sees them: one HelmRunner (one helm session, one kubeconfig) per identity the run
// acts as, a tenant's HelmRelease refused without a ServiceAccount, and releases of this scope whose HelmRelease
// left Git uninstalled.
import { impersonatedKubeConfig, type RawObjectApi } from "../cluster/kube-client.js";
import { parseDuration } from "../flux/duration.js";
import { type FluxHelmRelease, helmReleaseKey } from "../flux/helm-release.js";
import { HelmRunner, kubeConfigOf } from "../helm/run-helm-releases.js";
import type { SourceResolver } from "../source/resolver.js";
import { clientFor, maskLiveValues } from "./acting-client.js";
import type { ReconcileOptions } from "./options.js";
import type { PlannedHelmRelease } from "./plan.js";
import type { Reconciler, ReconcilerContext } from "./reconciler.js";
import type { HelmReleaseResult } from "./result.js";
import { impersonatedUser } from "./tenancy.js";

/** One HelmRunner per identity a run acts as. */
class HelmRunners {
  private readonly runners = new Map<string, HelmRunner>();

  constructor(
    private readonly api: RawObjectApi,
    private readonly resolver: SourceResolver,
    private readonly options: ReconcileOptions,
  ) {}

  base(): HelmRunner {
    return this.runner("", this.api, this.options.kubeConfig);
  }

  for(hr: FluxHelmRelease): HelmRunner {
    const { api, user } = clientFor(this.api, this.options, hr);
    if (!user) return this.base();
    // The helm binary impersonates through its kubeconfig (`as:`), as the object API does.
    const kc = this.options.kubeConfig ?? kubeConfigOf(this.api);
    return this.runner(user, api, kc && impersonatedKubeConfig(kc, user));
  }

  private runner(user: string, api: RawObjectApi, kubeConfig: ReconcileOptions["kubeConfig"]): HelmRunner {
    let runner = this.runners.get(user);
    if (!runner) {
      runner = new HelmRunner(api, this.resolver, {
        dryRun: this.options.dryRun,
        withDiff: this.options.withDiff,
        scope: this.options.scope,
        skipHealth: this.options.skipHealth,
        kubeConfig,
        untrusted: this.options.untrusted,
        ...(this.options.helmLimits ? { limits: this.options.helmLimits } : {}),
      });
      this.runners.set(user, runner);
    }
    return runner;
  }

  cleanup(): void {
    for (const r of this.runners.values()) r.cleanup();
  }
}

/**
 * helm applies whatever a chart renders, so for a tenant (a grant that limits namespaces or cluster-scoped
 * kinds) only the RBAC of an impersonated ServiceAccount can bound a HelmRelease. Without one it is refused.
 */
function unboundedTenantHelmRelease(opts: ReconcileOptions, p: PlannedHelmRelease): string | undefined {
  const policy = opts.tenancy;
  if (!policy || (!policy.namespaces && policy.clusterScoped)) return undefined;
  if (impersonatedUser(policy, p.hr.namespace, p.hr.spec.serviceAccountName)) return undefined;
  return `HelmRelease/${p.hr.namespace}/${p.hr.name}: spec.serviceAccountName: a HelmRelease of ${policy.tenant} needs a ServiceAccount (spec.serviceAccountName, or serviceAccountName in the operator's grant): helm applies what the chart renders, and only that account's RBAC can keep it within the tenant's namespaces`;
}

/** Flux's helm-controller retries a failed HelmRelease at its interval. */
function intervalOf(p: PlannedHelmRelease): HelmReleaseResult["interval"] {
  const everyMs = parseDuration(p.hr.spec.interval);
  return { everyMs, retryMs: everyMs };
}

export function failedHelmRelease(p: PlannedHelmRelease, message: string): HelmReleaseResult {
  return {
    interval: intervalOf(p),
    name: p.hr.name,
    namespace: p.hr.namespace,
    file: p.hr.file,
    releaseName: p.hr.releaseName,
    releaseNamespace: p.hr.releaseNamespace,
    status: "Failed",
    action: "none",
    message,
    changes: [],
    errors: [message],
    durationMs: 0,
  };
}

export function helmReleaseReconciler({
  api,
  resolver,
  options,
}: ReconcilerContext): Reconciler<PlannedHelmRelease, HelmReleaseResult> {
  const helm = new HelmRunners(api, resolver, options);
  return {
    kind: "HelmRelease",
    planned: (plan) => plan.helmReleases,
    key: (p) => helmReleaseKey(p.hr),
    object: (p) => ({ namespace: p.hr.namespace, name: p.hr.name }),
    dependsOn: (p) =>
      (p.hr.spec.dependsOn ?? []).map((d) =>
        helmReleaseKey({ name: d.name, namespace: d.namespace ?? p.hr.namespace }),
      ),
    parent: (p) => p.parent,
    refused: (p) => p.refused,
    waitsForChildren: () => false,
    failed: failedHelmRelease,
    dependencyNotReady: (p, message) => ({
      ...failedHelmRelease(p, message),
      status: "DependencyNotReady",
      errors: [],
    }),
    reconcile: async (p) => {
      const started = Date.now();
      const unbounded = unboundedTenantHelmRelease(options, p);
      if (unbounded) return { ...failedHelmRelease(p, unbounded), durationMs: Date.now() - started };
      const outcome = await helm.for(p.hr).reconcile(p.hr);
      if (options.untrusted) maskLiveValues(outcome.changes);
      return { ...outcome, interval: intervalOf(p) };
    },
    pruneRemoved: async (present) => {
      try {
        return { results: await helm.base().pruneRemoved(present.map((p) => p.hr)) };
      } catch (err) {
        // Listing Helm releases needs to read Secrets cluster-wide; without HelmReleases that is not our business.
        if (present.length > 0)
          return { results: [], error: `listing Helm releases: ${(err as Error).message}` };
        options.log?.debug({ err }, "could not list Helm releases to prune");
        return { results: [] };
      }
    },
    cleanup: () => helm.cleanup(),
  };
}
