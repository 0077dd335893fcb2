// A small OCI distribution client for sources: list tags, read a manifest, download a blob (digest checked),
// with anonymous or basic credentials and the registry token flow. Enough for Flux OCI artifacts
// (OCIRepository) and Helm charts in OCI registries (HelmRepository type oci, chartRef). Every request goes
// through the outbound policy (source/http.ts): answers bounded while they stream, credentials only to the
// registry (a token realm on another host is asked anonymously, a redirect elsewhere drops them, a `Link` page
// elsewhere is refused), every reference and digest checked before it names a URL or a path, and the whole
// conversation with the registry sharing one deadline (the source's timeout).
import { createHash } from "node:crypto";
import semver from "semver";
import type { OutboundPolicy, OutboundResponse } from "../util/outbound/index.js";
import { RegistryClient } from "../util/registry/client.js";
import { type ImageReference, isRepositoryPath } from "../util/registry/reference.js";
import { cached, cachePath, sha256Hex } from "./cache.js";
import type { BasicAuth } from "./credentials.js";
import { Deadline, readBody, statusText, writeBody } from "./http.js";
import { type ArchiveLimits, extractTarGz, readFileFromTarGz } from "./tar-extract.js";

export const FLUX_CONTENT_MEDIA_TYPE = "application/vnd.cncf.flux.content.v1.tar+gzip";
export const HELM_CHART_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
export const MAX_BLOB_BYTES = 256 * 1024 * 1024;
const maxManifestBytes = 4 * 1024 * 1024;
const manifestAccept = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/** What an artifact layer may unpack to. */
export const LAYER_LIMITS: Readonly<Partial<ArchiveLimits>> = {
  maxCompressedBytes: MAX_BLOB_BYTES,
  maxUnpackedBytes: 1024 * 1024 * 1024,
  maxEntries: 100_000,
};

const digestPattern = /^sha256:[0-9a-f]{64}$/;
const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** `sha256:<64 lowercase hex>`: the only digests that may name a URL, a cache entry or a directory. */
export function isSha256Digest(digest: unknown): digest is string {
  return typeof digest === "string" && digestPattern.test(digest);
}

export function assertSha256Digest(digest: unknown, where: string): string {
  if (!isSha256Digest(digest))
    throw new Error(`${where}: digest ${JSON.stringify(digest)} is not sha256:<64 hex digits>`);
  return digest;
}

/** A manifest reference: a tag (OCI distribution grammar) or a sha256 digest. */
export function assertManifestReference(reference: string): string {
  if (isSha256Digest(reference) || tagPattern.test(reference)) return reference;
  throw new Error(`"${reference}" is neither a tag nor a sha256 digest`);
}

export interface OciReference {
  /** host[:port] */
  registry: string;
  repository: string;
}

export function parseOciUrl(url: string): OciReference {
  const m = /^oci:\/\/([A-Za-z0-9.-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?)\/(.+?)\/?$/.exec(
    url,
  );
  // The repository grammar is image scanning's (util/registry/reference.ts): one parser of names.
  if (!m || !isRepositoryPath(m[2] as string))
    throw new Error(`"${url}" is not an oci://<registry>/<repository> URL`);
  return { registry: m[1] as string, repository: m[2] as string };
}

export interface OciManifest {
  digest: string;
  mediaType?: string;
  config?: { mediaType?: string; digest: string };
  layers: { mediaType: string; digest: string; size?: number; annotations?: Record<string, string> }[];
  annotations?: Record<string, string>;
}

export interface OciClientOptions {
  auth?: BasicAuth;
  insecure?: boolean;
  /** The whole conversation: every request and body of this client. */
  timeoutMs: number;
  policy: OutboundPolicy;
}

export class OciClient {
  private readonly base: string;
  private readonly deadline: Deadline;
  private readonly reference: ImageReference;
  private readonly registry: RegistryClient;

  constructor(
    private readonly ref: OciReference,
    private readonly opts: OciClientOptions,
  ) {
    const origin = `${opts.insecure ? "http" : "https"}://${ref.registry}`;
    this.base = `${origin}/v2/${ref.repository}`;
    this.deadline = new Deadline(opts.timeoutMs);
    this.reference = {
      image: `${ref.registry}/${ref.repository}`,
      registry: ref.registry,
      repository: ref.repository,
      apiBaseUrl: origin,
    };
    this.registry = new RegistryClient({ policy: opts.policy, timeoutMs: opts.timeoutMs });
  }

  private get name(): string {
    return `${this.ref.registry}/${this.ref.repository}`;
  }

  /**
   * A request that answered 2xx, through the one registry client (util/registry/client.ts): the 401 answered
   * (Basic or a Bearer token, credentials only to the registry's own host), transient failures retried, the
   * body bounded, every request within this fetch's deadline.
   */
  private async request(path: string, maxBytes: number, accept?: string): Promise<OutboundResponse> {
    let response: OutboundResponse;
    try {
      response = await this.registry.get(this.reference, path, {
        ...(this.opts.auth ? { credentials: this.opts.auth, preemptiveBasic: true } : {}),
        ...(accept ? { accept } : {}),
        maxBytes,
        signal: this.deadline.signal,
      });
    } catch (err) {
      if (this.deadline.expired())
        throw new Error(`${this.name}: GET ${this.base}${path}: ${this.deadline.message()}`, { cause: err });
      const message = (err as Error).message;
      throw new Error(message.startsWith(this.name) ? message : `${this.name}: ${message}`, { cause: err });
    }
    if (response.status < 200 || response.status >= 300) {
      response.discard();
      throw new Error(`${this.name}${path}: ${statusText(response.status)}`);
    }
    return response;
  }

  /**
   * The repository's tags, through the one tag lister of sources and image scans (util/registry/client.ts):
   * the same paging (`Link` only on this registry), bounds (pages, tags, bytes) and retries, within this
   * fetch's deadline.
   */
  async tags(): Promise<string[]> {
    try {
      const { tags } = await this.registry.listTags(this.reference, this.opts.auth, {
        timeoutMs: this.deadline.remainingMs(),
      });
      return tags;
    } catch (err) {
      if (this.deadline.expired())
        throw new Error(`${this.name}: listing tags: ${this.deadline.message()}`, { cause: err });
      throw err;
    }
  }

  private async body(response: OutboundResponse): Promise<Buffer> {
    try {
      return await readBody(response, this.deadline);
    } catch (err) {
      throw new Error(`${this.name}: ${(err as Error).message}`, { cause: err });
    }
  }

  async manifest(reference: string): Promise<OciManifest> {
    assertManifestReference(reference);
    const response = await this.request(`/manifests/${reference}`, maxManifestBytes, manifestAccept);
    const bytes = await this.body(response);
    // The digest is what we computed, never what a header says: it names cache entries and revisions.
    const digest = `sha256:${sha256Hex(bytes)}`;
    if (isSha256Digest(reference) && reference !== digest)
      throw new Error(`${this.name}@${reference}: the manifest does not match its digest (got ${digest})`);
    const body = parseJson(bytes, `${this.name}:${reference}: manifest`) as Omit<OciManifest, "digest">;
    if (!Array.isArray(body.layers)) {
      throw new Error(`${this.name}:${reference} is not an image manifest`);
    }
    for (const [i, layer] of body.layers.entries()) {
      assertSha256Digest(layer?.digest, `${this.name}:${reference}: layers[${i}]`);
      if (typeof layer.mediaType !== "string") layer.mediaType = "";
    }
    return { ...body, digest };
  }

  /** Downloads a blob into the cache (by digest, under `scope`) and returns the file path. */
  async blob(cacheDir: string, digest: string, opts: { scope: string; size?: number }): Promise<string> {
    assertSha256Digest(digest, `${this.name}: blob`);
    const hex = digest.slice("sha256:".length);
    if (opts.size !== undefined && opts.size > MAX_BLOB_BYTES)
      throw new Error(`${this.name}: blob ${digest} is larger than the ${MAX_BLOB_BYTES}-byte limit`);
    // The manifest's size, when given, is the bound: a registry sending more is refused at that byte.
    const limit = opts.size !== undefined && opts.size >= 0 ? opts.size : MAX_BLOB_BYTES;
    return cached(cachePath(cacheDir, `oci-blobs/${opts.scope}`, hex), async (tmp) => {
      // Registries send blobs from storage elsewhere (S3, a CDN): the redirect is followed under the policy,
      // without our credentials.
      const response = await this.request(`/blobs/${digest}`, limit);
      const hash = createHash("sha256");
      try {
        await writeBody(response, tmp, this.deadline, (chunk) => hash.update(chunk));
      } catch (err) {
        throw new Error(`${this.name}: blob ${digest}: ${(err as Error).message}`, { cause: err });
      }
      if (hash.digest("hex") !== hex)
        throw new Error(`${this.name}: blob ${digest} does not match its digest`);
    });
  }
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    const value = JSON.parse(bytes.toString("utf8")) as unknown;
    if (value === null || typeof value !== "object") throw new Error("not a JSON object");
    return value;
  } catch (err) {
    throw new Error(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Picks a tag for a semver range; OCI tags write `+` as `_`, as Helm does. */
export function selectTag(tags: string[], range: string): string | undefined {
  if (!semver.validRange(range)) throw new Error(`"${range}" is not a valid semver range`);
  const byVersion = new Map(tags.map((t) => [t.replaceAll("_", "+"), t]));
  const best = semver.maxSatisfying(
    [...byVersion.keys()].filter((v) => semver.valid(v, { loose: true })),
    range,
    { loose: true },
  );
  return best ? byVersion.get(best) : undefined;
}

/** Extracts an artifact layer (a gzipped tarball) into `dir`, every member checked (source/tar-extract.ts). */
export async function extractLayer(file: string, dir: string, what: string): Promise<void> {
  await extractTarGz(file, dir, { what, limits: LAYER_LIMITS });
}

/** A chart archive's `<name>/Chart.yaml`. */
export async function readChartYaml(file: string, what: string): Promise<string> {
  const text = await readFileFromTarGz(file, (p) => /^[^/]+\/Chart\.yaml$/.test(p), {
    what,
    limits: LAYER_LIMITS,
    maxBytes: 1024 * 1024,
  });
  if (text === undefined) throw new Error(`${what} has no <name>/Chart.yaml`);
  return text;
}
