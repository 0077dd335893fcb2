// The sources of one run: every GitRepository, OCIRepository and HelmRepository the tree declares, fetched on
// first use (at most once per run) and resolved to local files — a directory for Kustomizations, a chart for
// HelmReleases — with the revision each resolved to. A fetch failure names the source and the reason.
import type { FluxHelmRelease } from "../flux/helm-release.js";
import { type FluxSource, sourceKey } from "../flux/sources.js";
import type { ResolvedChart } from "../helm/release.js";
import type { SourceResult } from "../reconcile/result.js";
import { createOutboundPolicy, type OutboundPolicy } from "../util/outbound/index.js";
import { type BasicAuth, basicAuthFrom, type SecretReader } from "./credentials.js";
import { dockerConfigCredentials } from "./docker-config.js";
import { SourceError } from "./errors.js";
import { chartFromDirectory } from "./kinds/chart-directory.js";
import { kindModule, refusedSourceKinds } from "./kinds/index.js";
import type { SourceArtifact, SourceContext, SourceRef } from "./kinds/types.js";

export type { SourceArtifact, SourceRef };

export interface SourceResolverOptions {
  /** GitRepository names that stand for the repository being reconciled. */
  selfSourceNames: string[];
  /** The private copy of the repository being reconciled. */
  selfDir: string;
  cacheDir: string;
  secrets: SecretReader;
  /**
   * The longest any one source fetch may take, whatever its spec.timeout asks (operator
   * `security.maxSourceTimeout`, see securityLimits()). Default DEFAULT_MAX_SOURCE_TIMEOUT_MS.
   */
  maxTimeoutMs?: number;
  /**
   * Which hosts sources may reach (operator `security.outbound`, createOutboundPolicy). Default: the policy
   * without operator lists — link-local and cloud metadata addresses refused.
   */
  outbound?: OutboundPolicy;
}

/** The operator default for `security.maxSourceTimeout`: 5 minutes. */
export const DEFAULT_MAX_SOURCE_TIMEOUT_MS = 5 * 60 * 1000;

export { SourceError };

export class SourceResolver {
  private readonly sources = new Map<string, FluxSource>();
  private readonly artifacts = new Map<string, Promise<SourceArtifact>>();
  private readonly memo = new Map<string, Promise<unknown>>();
  private readonly fetched = new Map<string, SourceResult>();

  private readonly outbound: OutboundPolicy;
  private readonly context: SourceContext;

  constructor(private readonly opts: SourceResolverOptions) {
    this.outbound = opts.outbound ?? createOutboundPolicy();
    this.context = {
      cacheDir: opts.cacheDir,
      outbound: this.outbound,
      timeoutOf: (source) => this.timeoutOf(source),
      secretData: (source) => this.secretData(source),
      basicAuth: (source, registry) => this.basicAuth(source, registry),
      find: (ref, ns) => this.find(ref, ns),
      artifactOf: (ref, ns, field) => this.artifactOf(ref, ns, field),
      once: <T>(key: string, work: () => Promise<T>) => {
        let promise = this.memo.get(key) as Promise<T> | undefined;
        if (!promise) {
          promise = work();
          this.memo.set(key, promise);
        }
        return promise;
      },
    };
  }

  /** A source's spec.timeout (Flux default 60s), never more than the operator allows. */
  private timeoutOf(source: FluxSource): number {
    const max = this.opts.maxTimeoutMs ?? DEFAULT_MAX_SOURCE_TIMEOUT_MS;
    return Math.max(1, Math.min(source.timeoutMs, max));
  }

  declare(source: FluxSource): void {
    const key = sourceKey(source);
    const existing = this.sources.get(key);
    if (existing && existing.file !== source.file) {
      throw new SourceError(`${key} is defined twice (${existing.file} and ${source.file})`);
    }
    this.sources.set(key, source);
    for (const provided of kindModule(source).provides?.(source) ?? []) this.declare(provided);
  }

  declared(): FluxSource[] {
    return [...this.sources.values()];
  }

  find(ref: SourceRef, defaultNamespace: string): FluxSource | undefined {
    return this.sources.get(`${ref.kind}/${ref.namespace ?? defaultNamespace}/${ref.name}`);
  }

  /** The repository being reconciled: a GitRepository with a self name, or one the tree does not declare. */
  isSelf(ref: SourceRef, defaultNamespace: string): boolean {
    if (ref.kind !== "GitRepository") return false;
    return this.opts.selfSourceNames.includes(ref.name) || !this.find(ref, defaultNamespace);
  }

  results(): SourceResult[] {
    return [...this.fetched.values()];
  }

  private record(source: FluxSource, revision?: string, error?: string): void {
    this.fetched.set(sourceKey(source), {
      kind: source.kind,
      name: source.name,
      namespace: source.namespace,
      url: kindModule(source).displayUrl(source) ?? "",
      ...(revision ? { revision } : {}),
      ...(error ? { error } : {}),
    });
  }

  private async track<T extends { revision?: string }>(
    source: FluxSource,
    work: () => Promise<T>,
  ): Promise<T> {
    if (source.spec.suspend) {
      // Flux keeps serving the last artifact of a suspended source; without a store we can only say so.
      const message = `${sourceKey(source)} is suspended`;
      this.record(source, undefined, message);
      throw new SourceError(message);
    }
    try {
      const result = await work();
      this.record(source, result.revision);
      return result;
    } catch (err) {
      const message = `${sourceKey(source)}: ${(err as Error).message}`;
      this.record(source, undefined, message);
      throw new SourceError(message, { cause: err });
    }
  }

  private async secretData(source: FluxSource): Promise<Record<string, string> | undefined> {
    const ref = (source.spec as { secretRef?: { name: string } }).secretRef;
    if (!ref) return undefined;
    return this.opts.secrets(source.namespace, ref.name);
  }

  private async basicAuth(source: FluxSource, registry?: string): Promise<BasicAuth | undefined> {
    const data = await this.secretData(source);
    if (!data) return undefined;
    const name = `Secret ${source.namespace}/${(source.spec as { secretRef?: { name: string } }).secretRef?.name}`;
    const docker = data[".dockerconfigjson"];
    if (docker && registry) return dockerConfigCredentials(docker, registry, name);
    return basicAuthFrom(data, name);
  }

  /** The files of a source a Kustomization can build from (read-only: copy before writing). */
  artifact(source: FluxSource): Promise<SourceArtifact> {
    const key = sourceKey(source);
    let promise = this.artifacts.get(key);
    if (!promise) {
      const module = kindModule(source);
      const fetch = module.artifact;
      promise = fetch
        ? this.track(source, () => fetch(source, this.context))
        : Promise.reject(
            new SourceError(`${key} has no files to build from (a ${source.kind} serves charts)`),
          );
      this.artifacts.set(key, promise);
    }
    return promise;
  }

  /** The files a reference names: this repository for a self reference, else the declared source's. */
  private async artifactOf(ref: SourceRef, defaultNamespace: string, field: string): Promise<SourceArtifact> {
    if (this.isSelf(ref, defaultNamespace)) return { dir: this.opts.selfDir, revision: "" };
    const refused = refusedSourceKinds[ref.kind];
    if (refused) throw new SourceError(`${field}: ${refused}`);
    const source = this.find(ref, defaultNamespace);
    if (!source) {
      throw new SourceError(
        `${field}: ${ref.kind} ${ref.namespace ?? defaultNamespace}/${ref.name} is not defined in the repository`,
      );
    }
    return this.artifact(source);
  }

  /**
   * The revision a declared source serves now, as a run would record it, for a check between runs (a source's
   * own interval, src/schedule/source-poll.ts): its files' revision, or, for the HelmReleases in `charts` whose
   * chart it serves, what fetching their charts records (a Helm index's digest, an OCI tag's digest). Cheap when
   * nothing changed: the artifact or chart of an unchanged revision comes from the cache.
   */
  async revisionOf(source: FluxSource, charts: FluxHelmRelease[] = []): Promise<string> {
    if (charts.length > 0) for (const hr of charts) await this.chart(hr);
    else await this.artifact(source);
    return this.fetched.get(sourceKey(source))?.revision ?? "";
  }

  /** The chart a HelmRelease installs, fetched into the cache. */
  async chart(hr: FluxHelmRelease): Promise<ResolvedChart> {
    if (hr.spec.chartRef) {
      const ref = hr.spec.chartRef;
      const source = this.find(ref, hr.namespace);
      const fetch = source && kindModule(source).chartRef;
      if (!source || !fetch) {
        throw new SourceError(
          `spec.chartRef: ${ref.kind} ${ref.namespace ?? hr.namespace}/${ref.name} is not defined in the repository`,
        );
      }
      return this.track(source, () => fetch(source, hr, this.context));
    }
    const spec = hr.spec.chart?.spec;
    if (!spec) throw new SourceError("spec.chart or spec.chartRef is required");
    const ref = spec.sourceRef;
    if (this.isSelf(ref, hr.namespace)) {
      return asSourceError(() =>
        chartFromDirectory({
          root: this.opts.selfDir,
          chartPath: spec.chart,
          hr,
          field: "spec.chart.spec.chart",
          strategy: spec.reconcileStrategy,
          source: "GitRepository (this repository)",
        }),
      );
    }
    const refused = refusedSourceKinds[ref.kind];
    if (refused) throw new SourceError(`spec.chart.spec.sourceRef: ${refused}`);
    const source = this.find(ref, hr.namespace);
    const fetch = source && kindModule(source).chart;
    if (!source || !fetch) {
      throw new SourceError(
        `spec.chart.spec.sourceRef: ${ref.kind} ${ref.namespace ?? hr.namespace}/${ref.name} is not defined in the repository`,
      );
    }
    // A chart in a Git tree is recorded through the tree's own fetch (artifact), not a second time here.
    if (source.kind === "GitRepository") return asSourceError(() => fetch(source, spec, hr, this.context));
    return this.track(source, () => fetch(source, spec, hr, this.context));
  }
}

/** Errors of work outside track() (a chart directory) as SourceErrors, as callers expect of a source. */
async function asSourceError<T>(work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof SourceError || (err as Error).name === "ManifestError") throw err;
    throw new SourceError((err as Error).message, { cause: err });
  }
}
