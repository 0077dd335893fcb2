// A small OCI distribution client for sources: list tags, read a manifest, download a blob (digest checked),
// with anonymous or basic credentials and the registry token flow. Enough for Flux OCI artifacts
// (OCIRepository) and Helm charts in OCI registries (HelmRepository type oci, chartRef). Every answer is read
// with a bound while it streams, every reference and digest is checked before it names a URL or a path, and
// the whole conversation with the registry shares one deadline (the source's timeout).
import { createHash } from "node:crypto";
import semver from "semver";
import { cached, cachePath, sha256Hex } from "./cache.js";
import { type BasicAuth, basicAuthHeader } from "./credentials.js";
import { fetchFailure, readBoundedBody, writeBoundedBody } from "./http-body.js";
import { type ArchiveLimits, extractTarGz, readFileFromTarGz } from "./tar-extract.js";

export const FLUX_CONTENT_MEDIA_TYPE = "application/vnd.cncf.flux.content.v1.tar+gzip";
export const HELM_CHART_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
export const MAX_BLOB_BYTES = 256 * 1024 * 1024;
const maxManifestBytes = 4 * 1024 * 1024;
const maxTagListBytes = 8 * 1024 * 1024;
const maxTagPages = 100;
const maxTokenBytes = 64 * 1024;
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
  const m =
    /^oci:\/\/([A-Za-z0-9.-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?)\/([a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)\/?$/.exec(
      url,
    );
  if (!m) throw new Error(`"${url}" is not an oci://<registry>/<repository> URL`);
  return { registry: m[1] as string, repository: m[2] as string };
}

export interface OciManifest {
  digest: string;
  mediaType?: string;
  config?: { mediaType?: string; digest: string };
  layers: { mediaType: string; digest: string; size?: number; annotations?: Record<string, string> }[];
  annotations?: Record<string, string>;
}

export class OciClient {
  private token?: string;
  private readonly base: string;
  /** One deadline for everything this client does: the source's timeout bounds the whole fetch. */
  private readonly signal: AbortSignal;

  constructor(
    private readonly ref: OciReference,
    private readonly opts: { auth?: BasicAuth; insecure?: boolean; timeoutMs: number },
  ) {
    this.base = `${opts.insecure ? "http" : "https"}://${ref.registry}/v2/${ref.repository}`;
    this.signal = AbortSignal.timeout(opts.timeoutMs);
  }

  private get name(): string {
    return `${this.ref.registry}/${this.ref.repository}`;
  }

  private async request(path: string, accept?: string): Promise<Response> {
    const send = (authorization?: string) =>
      fetch(`${this.base}${path}`, {
        headers: { ...(accept ? { accept } : {}), ...(authorization ? { authorization } : {}) },
        signal: this.signal,
        // A redirect would carry our Authorization to wherever it points; blob redirects to storage are
        // followed by hand, without credentials (see blob()).
        redirect: "manual",
      });
    let response: Response;
    try {
      response = await send(this.authorization());
      if (response.status === 401 && !this.token) {
        const challenge = response.headers.get("www-authenticate") ?? "";
        await response.body?.cancel().catch(() => undefined);
        if (/^bearer/i.test(challenge)) {
          this.token = await this.fetchToken(challenge);
          response = await send(this.authorization());
        } else if (/^basic/i.test(challenge) && this.opts.auth) {
          response = await send(basicAuthHeader(this.opts.auth));
        }
      }
    } catch (err) {
      throw new Error(`${this.name}: ${fetchFailure(err, this.opts.timeoutMs)}`, { cause: err });
    }
    if (response.status >= 300 && response.status < 400) return response;
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new Error(
        `${this.name}${path}: HTTP ${response.status}${response.status === 401 ? " (check the secretRef credentials)" : ""}`,
      );
    }
    return response;
  }

  private authorization(): string | undefined {
    if (this.token) return `Bearer ${this.token}`;
    return this.opts.auth ? basicAuthHeader(this.opts.auth) : undefined;
  }

  private async fetchToken(challenge: string): Promise<string> {
    const params = Object.fromEntries(
      [...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] as string, m[2] as string]),
    );
    if (!params.realm) throw new Error(`${this.ref.registry}: token challenge without realm`);
    const url = new URL(params.realm);
    if (url.protocol !== "https:" && url.protocol !== "http:")
      throw new Error(`${this.ref.registry}: token realm ${params.realm} is not an http(s) URL`);
    if (params.service) url.searchParams.set("service", params.service);
    url.searchParams.set("scope", params.scope ?? `repository:${this.ref.repository}:pull`);
    const response = await fetch(url, {
      headers: this.opts.auth ? { authorization: basicAuthHeader(this.opts.auth) } : {},
      signal: this.signal,
      redirect: "manual",
    });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new Error(`${this.ref.registry}: token request failed: HTTP ${response.status}`);
    }
    const body = parseJson(
      await readBoundedBody(response, maxTokenBytes, `${this.ref.registry}: token response`),
      `${this.ref.registry}: token response`,
    ) as { token?: unknown; access_token?: unknown };
    const token = body.token ?? body.access_token;
    if (typeof token !== "string" || token === "" || /[\r\n]/.test(token))
      throw new Error(`${this.ref.registry}: token response has no token`);
    return token;
  }

  async tags(): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = "/tags/list?n=1000";
    for (let page = 0; path; page++) {
      if (page >= maxTagPages)
        throw new Error(`${this.name}: more than ${maxTagPages} pages of tags; stopped listing`);
      const response = await this.wrap(() => this.request(path as string));
      const body = parseJson(
        await this.wrap(() => readBoundedBody(response, maxTagListBytes, `${this.name}: tag list`)),
        `${this.name}: tag list`,
      ) as { tags?: unknown };
      if (body.tags != null && !Array.isArray(body.tags))
        throw new Error(`${this.name}: tag list has no tags array`);
      tags.push(...((body.tags ?? []) as unknown[]).filter((t): t is string => typeof t === "string"));
      path = this.nextPage(response.headers.get("link"));
    }
    return tags;
  }

  /** The next page from a `Link` header, only ever on this registry's tag list (no other host, no other path). */
  private nextPage(link: string | null): string | undefined {
    const next = link ? /<([^>]+)>/.exec(link)?.[1] : undefined;
    if (!next) return undefined;
    const url = new URL(next, this.base);
    const base = new URL(`${this.base}/tags/list`);
    if (url.origin !== base.origin || url.pathname !== base.pathname)
      throw new Error(
        `${this.name}: tag list points to another location (${url.origin}${url.pathname}); refused`,
      );
    return `/tags/list${url.search}`;
  }

  async manifest(reference: string): Promise<OciManifest> {
    assertManifestReference(reference);
    const response = await this.wrap(() => this.request(`/manifests/${reference}`, manifestAccept));
    if (!response.ok) throw new Error(`${this.name}:${reference}: manifest request redirected; refused`);
    const bytes = await this.wrap(() =>
      readBoundedBody(response, maxManifestBytes, `${this.name}:${reference}: manifest`),
    );
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
    const limit =
      opts.size !== undefined && opts.size >= 0 ? Math.min(opts.size, MAX_BLOB_BYTES) : MAX_BLOB_BYTES;
    if (opts.size !== undefined && opts.size > MAX_BLOB_BYTES)
      throw new Error(`${this.name}: blob ${digest} is larger than the ${MAX_BLOB_BYTES}-byte limit`);
    return cached(cachePath(cacheDir, `oci-blobs/${opts.scope}`, hex), async (tmp) => {
      let response = await this.wrap(() => this.request(`/blobs/${digest}`));
      if (response.status >= 300 && response.status < 400)
        response = await this.followToStorage(response, digest);
      const hash = createHash("sha256");
      await this.wrap(() =>
        writeBoundedBody(response, tmp, limit, `${this.name}: blob ${digest}`, (chunk) => hash.update(chunk)),
      );
      if (hash.digest("hex") !== hex)
        throw new Error(`${this.name}: blob ${digest} does not match its digest`);
    });
  }

  /** Registries send blobs from storage elsewhere (S3, a CDN): followed without our credentials. */
  private async followToStorage(response: Response, digest: string): Promise<Response> {
    const location = response.headers.get("location");
    await response.body?.cancel().catch(() => undefined);
    if (!location) throw new Error(`${this.name}: blob ${digest}: redirect without a location`);
    const target = new URL(location, this.base);
    if (target.protocol !== "https:" && target.protocol !== "http:")
      throw new Error(`${this.name}: blob ${digest}: redirect to ${target.protocol} refused`);
    const redirected = await fetch(target, { signal: this.signal, redirect: "follow" });
    if (!redirected.ok) {
      await redirected.body?.cancel().catch(() => undefined);
      throw new Error(`${this.name}: blob ${digest}: HTTP ${redirected.status} from ${target.host}`);
    }
    return redirected;
  }

  /** Errors of reading a body (a timeout half way) in the same words as those of sending the request. */
  private async wrap<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if ((err as Error).message?.startsWith(this.name)) throw err;
      throw new Error(`${this.name}: ${fetchFailure(err, this.opts.timeoutMs)}`, { cause: err });
    }
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
