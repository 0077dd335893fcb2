// The engine's side of HelmReleases: the helm sessions of a run (created when the first HelmRelease needs
// them), resolving the chart and values of each HelmRelease and reconciling it, and uninstalling the releases
// this scope made whose HelmRelease left Git. A dry-run never starts a session with cluster access: helm only
// renders (no kubeconfig), and what it would have read (release storage, discovery) the bot reads itself.
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { RawObjectApi } from "../cluster/kube-client.js";
import { scopeHash } from "../cluster/ssa/inventory.js";
import { ManifestError } from "../flux/errors.js";
import { type FluxHelmRelease, helmReleaseKey } from "../flux/helm-release.js";
import type { SourceResolver } from "../source/resolver.js";
import { scrubSecrets } from "../util/secret-scrub.js";
import { type ClusterCapabilities, discoverCapabilities } from "./capabilities.js";
import { applyChartValuesFiles } from "./chart-values-files.js";
import { type HelmSession, startHelmSession } from "./helm-cli.js";
import { manifestChanges } from "./manifest.js";
import {
  type HelmReleaseOptions,
  type HelmSessions,
  reconcileHelmRelease,
  uninstallRelease,
} from "./release.js";
import { pruneFailureCounts } from "./remediation-state.js";
import type { HelmReleaseResult } from "./result.js";
import { HR_NAME_LABEL, HR_NAMESPACE_LABEL, readStoredRelease, releasesOfScope } from "./storage.js";
import { composeValues } from "./values.js";

/**
 * The KubeConfig an object API was made from, when it can be found: client-node's `makeApiClient` keeps it as
 * the default auth method; a wrapper may expose it as `kubeConfig`. Otherwise pass ReconcileOptions.kubeConfig.
 */
export function kubeConfigOf(api: RawObjectApi): KubeConfig | undefined {
  const config = (api as unknown as { configuration?: { authMethods?: { default?: unknown } } })
    .configuration;
  const auth = config?.authMethods?.default;
  if (auth instanceof KubeConfig) return auth;
  const wrapped = (auth as { kubeConfig?: unknown } | undefined)?.kubeConfig;
  return wrapped instanceof KubeConfig ? wrapped : undefined;
}

export class HelmRunner implements HelmSessions {
  private renderSession?: HelmSession;
  private clusterSession?: HelmSession;
  private discovered?: Promise<ClusterCapabilities | undefined>;

  constructor(
    private readonly api: RawObjectApi,
    private readonly resolver: SourceResolver,
    private readonly opts: HelmReleaseOptions & { kubeConfig?: KubeConfig },
  ) {}

  private kubeConfig(): KubeConfig | undefined {
    return this.opts.kubeConfig ?? kubeConfigOf(this.api);
  }

  render(): HelmSession {
    this.renderSession ??= startHelmSession(undefined, this.opts.limits);
    return this.renderSession;
  }

  cluster(): HelmSession {
    if (this.opts.dryRun) throw new Error("internal: a dry-run never gives helm access to the cluster");
    if (!this.clusterSession) {
      const kc = this.kubeConfig();
      if (!kc) throw new Error("HelmReleases need the cluster's KubeConfig (ReconcileOptions.kubeConfig)");
      this.clusterSession = startHelmSession(kc, this.opts.limits);
    }
    return this.clusterSession;
  }

  capabilities(): Promise<ClusterCapabilities | undefined> {
    const kc = this.kubeConfig();
    // Without them helm renders with its defaults; a chart that needs more says so in its error.
    this.discovered ??= kc ? discoverCapabilities(kc).catch(() => undefined) : Promise.resolve(undefined);
    return this.discovered;
  }

  cleanup(): void {
    this.renderSession?.cleanup();
    this.clusterSession?.cleanup();
  }

  async reconcile(hr: FluxHelmRelease): Promise<HelmReleaseResult> {
    const started = Date.now();
    const base = {
      name: hr.name,
      namespace: hr.namespace,
      file: hr.file,
      releaseName: hr.releaseName,
      releaseNamespace: hr.releaseNamespace,
      changes: [],
      errors: [],
    };
    if (hr.spec.suspend) {
      return { ...base, status: "Suspended", action: "none", message: "spec.suspend is true", durationMs: 0 };
    }
    let secrets: string[] = [];
    try {
      const [fetched, values] = await Promise.all([
        this.resolver.chart(hr).catch((err: Error) => {
          throw new Error(`chart: ${err.message}`, { cause: err });
        }),
        composeValues(this.api, hr, { readSecrets: !this.opts.untrusted }),
      ]);
      const chart = await applyChartValuesFiles(hr, fetched, join(this.render().dir, "charts"));
      secrets = values.secretStrings;
      return await reconcileHelmRelease(this.api, this, hr, chart, values, this.opts);
    } catch (err) {
      const text = scrubSecrets((err as Error).message, secrets);
      const message = err instanceof ManifestError ? text : `${helmReleaseKey(hr)}: ${text}`;
      return {
        ...base,
        status: "Failed",
        action: "none",
        message,
        errors: [message],
        durationMs: Date.now() - started,
      };
    }
  }

  /** Uninstalls releases this scope installed whose HelmRelease is no longer in Git. */
  async pruneRemoved(present: { name: string; namespace: string }[]): Promise<HelmReleaseResult[]> {
    const keep = new Set(present.map((hr) => `${hr.namespace}/${hr.name}`));
    const releases = await releasesOfScope(this.api, scopeHash(this.opts.scope));
    const removed = releases.filter(
      (r) =>
        r.status !== "uninstalled" && !keep.has(`${r.labels[HR_NAMESPACE_LABEL]}/${r.labels[HR_NAME_LABEL]}`),
    );
    const results: HelmReleaseResult[] = [];
    for (const release of removed) {
      const started = Date.now();
      const name = release.labels[HR_NAME_LABEL] ?? release.name;
      const namespace = release.labels[HR_NAMESPACE_LABEL] ?? release.namespace;
      const result: HelmReleaseResult = {
        name,
        namespace,
        file: "",
        releaseName: release.name,
        releaseNamespace: release.namespace,
        status: "Ready",
        action: "uninstalled",
        message: `removed from Git: ${this.opts.dryRun ? "would uninstall" : "uninstalled"} release ${release.namespace}/${release.name}`,
        revision: release.revision,
        changes: [],
        errors: [],
        durationMs: 0,
      };
      try {
        const { manifest } = await readStoredRelease(this.api, release);
        result.changes = manifestChanges(manifest, "", release.namespace, false);
        if (!this.opts.dryRun)
          await uninstallRelease(
            this.cluster(),
            undefined,
            release.name,
            release.namespace,
            this.opts.skipHealth,
          );
      } catch (err) {
        result.status = "Failed";
        result.message = `uninstalling release ${release.namespace}/${release.name} failed: ${(err as Error).message}`;
        result.errors.push(result.message);
      }
      result.durationMs = Date.now() - started;
      results.push(result);
    }
    // Failure counts of HelmReleases that left Git (their release may never have existed: an install that
    // failed and was uninstalled). Best effort: a count left behind is reset by the next desired state anyway.
    if (!this.opts.dryRun)
      await pruneFailureCounts(this.api, scopeHash(this.opts.scope), keep).catch(() => {});
    return results;
  }
}
