// The sources of one run: every GitRepository, OCIRepository and HelmRepository the tree declares, fetched on
// first use (at most once per run) and resolved to local files — a directory for Kustomizations, a chart for
// HelmReleases — with the revision each resolved to. A fetch failure names the source and the reason.
import { createHash } from "node:crypto";
import { cpSync, existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import type { FluxHelmRelease } from "../flux/helm-release.js";
import {
  type FluxSource,
  type GitRepositorySource,
  type HelmRepositorySource,
  type OCIRepositorySource,
  sourceKey,
} from "../flux/sources.js";
import type { ResolvedChart } from "../helm/release.js";
import type { SourceResult } from "../reconcile/result.js";
import { createOutboundPolicy, type OutboundPolicy } from "../util/outbound/index.js";
import { cached, cachePath, credentialScope, sha256Hex } from "./cache.js";
import { copyTreeContained } from "./copy-tree.js";
import { type BasicAuth, basicAuthFrom, displayUrl, type SecretReader } from "./credentials.js";
import { fetchGitRepository, type GitCredentials, type PinnedHost } from "./git.js";
import { downloadChart, fetchHelmIndex, findChart, type HelmIndexResult } from "./helm-repository.js";
import {
  assertManifestReference,
  extractLayer,
  FLUX_CONTENT_MEDIA_TYPE,
  HELM_CHART_MEDIA_TYPE,
  OciClient,
  type OciManifest,
  parseOciUrl,
  readChartYaml,
  selectTag,
} from "./oci.js";
import { assertNoEscapingSymlinks, listFiles, resolveInRepo } from "./repo-path.js";

export interface SourceArtifact {
  dir: string;
  revision: string;
}

export interface SourceRef {
  kind: string;
  name: string;
  namespace?: string;
}

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

export class SourceError extends Error {
  override name = "SourceError";
}

export class SourceResolver {
  private readonly sources = new Map<string, FluxSource>();
  private readonly artifacts = new Map<string, Promise<SourceArtifact>>();
  private readonly indexes = new Map<string, Promise<HelmIndexResult>>();
  private readonly fetched = new Map<string, SourceResult>();

  private readonly outbound: OutboundPolicy;

  constructor(private readonly opts: SourceResolverOptions) {
    this.outbound = opts.outbound ?? createOutboundPolicy();
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
      url: displayUrl(source.spec.url),
      ...(revision ? { revision } : {}),
      ...(error ? { error } : {}),
    });
  }

  private async track<T extends { revision: string }>(
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
      throw new SourceError(message);
    }
  }

  private async secretData(source: FluxSource): Promise<Record<string, string> | undefined> {
    const ref = source.spec.secretRef;
    if (!ref) return undefined;
    return this.opts.secrets(source.namespace, ref.name);
  }

  private async basicAuth(source: FluxSource, registry?: string): Promise<BasicAuth | undefined> {
    const data = await this.secretData(source);
    if (!data) return undefined;
    const name = `${source.namespace}/${source.spec.secretRef?.name}`;
    const docker = data[".dockerconfigjson"];
    if (docker && registry) return dockerConfigAuth(docker, registry, name);
    return basicAuthFrom(data, `Secret ${name}`);
  }

  /** The files of a GitRepository or OCIRepository (read-only: copy before writing). */
  artifact(source: GitRepositorySource | OCIRepositorySource): Promise<SourceArtifact> {
    const key = sourceKey(source);
    let promise = this.artifacts.get(key);
    if (!promise) {
      promise = this.track(source, () =>
        source.kind === "GitRepository" ? this.fetchGit(source, [key]) : this.fetchOci(source),
      );
      this.artifacts.set(key, promise);
    }
    return promise;
  }

  private async fetchGit(source: GitRepositorySource, chain: string[]): Promise<SourceArtifact> {
    const data = await this.secretData(source);
    const creds: GitCredentials = {};
    if (data?.identity) creds.ssh = { identity: data.identity, knownHosts: data.known_hosts };
    else if (data)
      creds.basic = basicAuthFrom(data, `Secret ${source.namespace}/${source.spec.secretRef?.name}`);
    const pinned = await this.checkGitHost(source.spec.url);
    const base = await fetchGitRepository(
      source.spec,
      creds,
      this.opts.cacheDir,
      this.timeoutOf(source),
      pinned,
    );
    const includes = source.spec.include ?? [];
    if (includes.length === 0) return { dir: base.dir, revision: base.revision };
    // Includes change the content, so the composed tree has its own cache key.
    const parts = await Promise.all(
      includes.map(async (inc, i) => {
        const ref = { kind: "GitRepository", name: inc.repository.name, namespace: source.namespace };
        const other = this.find(ref, source.namespace);
        if (other?.kind !== "GitRepository") {
          throw new Error(
            `spec.include[${i}]: GitRepository ${source.namespace}/${inc.repository.name} is not defined`,
          );
        }
        if (chain.includes(sourceKey(other)))
          throw new Error(`spec.include[${i}]: include cycle through ${sourceKey(other)}`);
        const artifact = await this.fetchGit(other, [...chain, sourceKey(other)]);
        return { inc, artifact, i };
      }),
    );
    const key = sha256Hex(
      JSON.stringify([base.dir, parts.map((p) => [p.artifact.dir, p.inc.fromPath, p.inc.toPath])]),
    );
    const dir = await cached(cachePath(this.opts.cacheDir, "git-included", key), async (tmp) => {
      cpSync(base.dir, tmp, { recursive: true, verbatimSymlinks: true });
      for (const { inc, artifact, i } of parts) {
        const from = resolveInRepo(artifact.dir, inc.fromPath ?? "./", {
          field: `spec.include[${i}].fromPath`,
        });
        // Neither side may lead out through a symlink: not the included repository's fromPath, and not a
        // toPath through a link in this repository (`evil -> ../../..`, `toPath: evil/x`).
        copyTreeContained({
          from,
          fromRoot: artifact.dir,
          toPath: inc.toPath ?? inc.repository.name,
          toRoot: tmp,
          field: `spec.include[${i}]`,
        });
      }
    });
    return { dir, revision: base.revision };
  }

  /**
   * git makes its own connections, so the policy judges the URL's host before git runs, and git is pinned to
   * the addresses judged (git.ts: curl's resolve list, ssh's HostName; no redirects), as HTTP sources are.
   */
  private async checkGitHost(url: string): Promise<PinnedHost> {
    let host: string;
    try {
      host = new URL(url).hostname;
    } catch {
      throw new Error(`spec.url ${displayUrl(url)} is not a URL`);
    }
    try {
      const checked = await this.outbound.check(host);
      return { host: checked.host, addresses: checked.addresses.map((a) => a.text) };
    } catch (err) {
      throw new Error(`fetching ${displayUrl(url)}: ${(err as Error).message}`, { cause: err });
    }
  }

  private ociClient(
    url: string,
    source: OCIRepositorySource | HelmRepositorySource,
    auth: BasicAuth | undefined,
  ) {
    return new OciClient(parseOciUrl(url), {
      auth,
      insecure: source.spec.insecure ?? false,
      timeoutMs: this.timeoutOf(source),
      policy: this.outbound,
    });
  }

  private async ociManifest(
    source: OCIRepositorySource,
  ): Promise<{ client: OciClient; manifest: OciManifest; revision: string; scope: string }> {
    const { registry } = parseOciUrl(source.spec.url);
    const auth = await this.basicAuth(source, registry);
    const client = this.ociClient(source.spec.url, source, auth);
    const scope = credentialScope(this.opts.cacheDir, auth);
    const ref = source.spec.ref ?? {};
    let tag: string | undefined;
    if (ref.digest) {
      const manifest = await client.manifest(ref.digest);
      return { client, manifest, revision: ref.digest, scope };
    }
    if (ref.semver) {
      tag = selectTag(await client.tags(), ref.semver);
      if (!tag) throw new Error(`no tag matches semver range "${ref.semver}"`);
    } else {
      tag = ref.tag ?? "latest";
    }
    const manifest = await client.manifest(assertManifestReference(tag));
    return { client, manifest, revision: `${tag}@${manifest.digest}`, scope };
  }

  private selectLayer(source: OCIRepositorySource, manifest: OciManifest, preferred?: string) {
    const wanted = source.spec.layerSelector?.mediaType ?? preferred;
    const layer = wanted ? manifest.layers.find((l) => l.mediaType === wanted) : manifest.layers[0];
    if (!layer) {
      throw new Error(
        wanted
          ? `the artifact has no layer of media type ${wanted} (it has ${manifest.layers.map((l) => l.mediaType).join(", ") || "none"})`
          : "the artifact has no layers",
      );
    }
    return layer;
  }

  private async fetchOci(source: OCIRepositorySource): Promise<SourceArtifact> {
    const { client, manifest, revision, scope } = await this.ociManifest(source);
    const hasFluxLayer = manifest.layers.some((l) => l.mediaType === FLUX_CONTENT_MEDIA_TYPE);
    const layer = this.selectLayer(source, manifest, hasFluxLayer ? FLUX_CONTENT_MEDIA_TYPE : undefined);
    if (source.spec.layerSelector?.operation === "copy") {
      throw new Error("layerSelector.operation copy is only supported for charts (HelmRelease chartRef)");
    }
    // The digest was checked (sha256:<64 hex>) when the manifest was read; only then may it name a directory.
    const blob = await client.blob(this.opts.cacheDir, layer.digest, { scope, size: layer.size });
    const dir = await cached(
      cachePath(this.opts.cacheDir, `oci-extracted/${scope}`, layer.digest.slice("sha256:".length)),
      (tmp) => extractLayer(blob, tmp, `OCI layer ${layer.digest}`),
    );
    assertNoEscapingSymlinks(dir, dir);
    return { dir, revision };
  }

  /** The chart a HelmRelease installs, fetched into the cache. */
  async chart(hr: FluxHelmRelease): Promise<ResolvedChart> {
    if (hr.spec.chartRef) {
      const ref = hr.spec.chartRef;
      const source = this.find(
        { kind: "OCIRepository", name: ref.name, namespace: ref.namespace },
        hr.namespace,
      );
      if (source?.kind !== "OCIRepository") {
        throw new SourceError(
          `spec.chartRef: OCIRepository ${ref.namespace ?? hr.namespace}/${ref.name} is not defined in the repository`,
        );
      }
      return this.track(source, async () => {
        const { client, manifest, revision, scope } = await this.ociManifest(source);
        const layer = this.selectLayer(source, manifest, HELM_CHART_MEDIA_TYPE);
        const path = await client.blob(this.opts.cacheDir, layer.digest, { scope, size: layer.size });
        const meta = await chartMetadataFromArchive(path, `chart layer ${layer.digest}`);
        return { path, ...meta, source: `${sourceKey(source)}@${revision}`, revision };
      });
    }
    const spec = hr.spec.chart?.spec;
    if (!spec) throw new SourceError("spec.chart or spec.chartRef is required");
    const ref = spec.sourceRef;
    if (ref.kind === "GitRepository") return this.chartFromGit(hr, spec.chart, ref, spec.reconcileStrategy);
    const source = this.find(ref, hr.namespace);
    if (source?.kind !== "HelmRepository") {
      throw new SourceError(
        `spec.chart.spec.sourceRef: HelmRepository ${ref.namespace ?? hr.namespace}/${ref.name} is not defined in the repository`,
      );
    }
    return this.track(source, async () => {
      if (source.spec.type === "oci") {
        const { registry } = parseOciUrl(source.spec.url);
        const auth = await this.basicAuth(source, registry);
        const client = this.ociClient(`${source.spec.url.replace(/\/+$/, "")}/${spec.chart}`, source, auth);
        const tags = await client.tags();
        const wanted = spec.version ?? "*";
        const tag =
          tags.includes(wanted) || tags.includes(wanted.replaceAll("+", "_"))
            ? wanted.replaceAll("+", "_")
            : selectTag(tags, wanted);
        if (!tag) throw new Error(`no version of chart "${spec.chart}" matches "${wanted}"`);
        const manifest = await client.manifest(assertManifestReference(tag));
        const layer = manifest.layers.find((l) => l.mediaType === HELM_CHART_MEDIA_TYPE);
        if (!layer)
          throw new Error(`${spec.chart}:${tag} is not a Helm chart (no ${HELM_CHART_MEDIA_TYPE} layer)`);
        const scope = credentialScope(this.opts.cacheDir, auth);
        const path = await client.blob(this.opts.cacheDir, layer.digest, { scope, size: layer.size });
        const meta = await chartMetadataFromArchive(path, `chart ${spec.chart}:${tag}`);
        const revision = `${tag}@${manifest.digest}`;
        return { path, ...meta, source: `${sourceKey(source)}@${revision}`, revision };
      }
      const auth = await this.basicAuth(source);
      let index = this.indexes.get(sourceKey(source));
      if (!index) {
        index = fetchHelmIndex(source.spec.url, auth, {
          timeoutMs: this.timeoutOf(source),
          policy: this.outbound,
        });
        this.indexes.set(sourceKey(source), index);
      }
      const { index: parsed, revision } = await index;
      const entry = findChart(parsed, spec.chart, spec.version);
      const path = await downloadChart(this.opts.cacheDir, source.spec.url, entry, auth, {
        passCredentials: source.spec.passCredentials ?? false,
        timeoutMs: this.timeoutOf(source),
        scope: credentialScope(this.opts.cacheDir, auth),
        policy: this.outbound,
      });
      return {
        path,
        name: entry.name,
        version: entry.version,
        source: `${sourceKey(source)}@${revision}`,
        revision,
      };
    });
  }

  private async chartFromGit(
    hr: FluxHelmRelease,
    chartPath: string,
    ref: SourceRef,
    strategy: "ChartVersion" | "Revision" | undefined,
  ): Promise<ResolvedChart> {
    let root = this.opts.selfDir;
    let source = "GitRepository (this repository)";
    if (!this.isSelf(ref, hr.namespace)) {
      const git = this.find(ref, hr.namespace) as GitRepositorySource;
      const artifact = await this.artifact(git);
      root = artifact.dir;
      source = `${sourceKey(git)}@${artifact.revision}`;
    }
    const where = {
      file: hr.file,
      object: `HelmRelease/${hr.namespace}/${hr.name}`,
      field: "spec.chart.spec.chart",
    };
    const dir = resolveInRepo(root, chartPath, where);
    if (!existsSync(join(dir, "Chart.yaml"))) throw new SourceError(`${chartPath} has no Chart.yaml`);
    assertNoEscapingSymlinks(root, dir);
    const meta = chartMetadata(readFileSync(join(dir, "Chart.yaml"), "utf8"), chartPath);
    // Flux's Revision strategy: a new chart build for every content change, not only version bumps.
    const version =
      strategy === "Revision" ? `${meta.version}+${directoryDigest(dir).slice(0, 12)}` : meta.version;
    return { path: dir, name: meta.name, version, source, root };
  }
}

function chartMetadata(text: string, where: string): { name: string; version: string } {
  const meta = parse(text) as { name?: unknown; version?: unknown } | null;
  if (typeof meta?.name !== "string" || typeof meta.version !== "string") {
    throw new SourceError(`${where}: Chart.yaml needs a name and a version`);
  }
  return { name: meta.name, version: meta.version };
}

async function chartMetadataFromArchive(
  path: string,
  what: string,
): Promise<{ name: string; version: string }> {
  return chartMetadata(await readChartYaml(path, what), what);
}

function directoryDigest(dir: string): string {
  const hash = createHash("sha256");
  for (const file of listFiles(dir)) {
    if (!statSync(file).isFile()) continue;
    hash.update(file.slice(dir.length));
    hash.update(readFileSync(file));
  }
  return hash.digest("hex");
}

function dockerConfigAuth(json: string, registry: string, secret: string): BasicAuth | undefined {
  let config: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    config = JSON.parse(json);
  } catch {
    throw new Error(`Secret ${secret}: .dockerconfigjson is not valid JSON`);
  }
  const entry = Object.entries(config.auths ?? {}).find(
    ([host]) => host.replace(/^https?:\/\//, "").replace(/\/.*$/, "") === registry,
  )?.[1];
  if (!entry) return undefined;
  if (entry.username && entry.password !== undefined)
    return { username: entry.username, password: entry.password };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return undefined;
}
