// A small OCI distribution client for sources: list tags, read a manifest, download a blob (digest checked),
// with anonymous or basic credentials and the registry token flow. Enough for Flux OCI artifacts
// (OCIRepository) and Helm charts in OCI registries (HelmRepository type oci, chartRef).
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import semver from "semver";
import { cached, cachePath, sha256Hex } from "./cache.js";
import { type BasicAuth, basicAuthHeader } from "./credentials.js";

export const FLUX_CONTENT_MEDIA_TYPE = "application/vnd.cncf.flux.content.v1.tar+gzip";
export const HELM_CHART_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const maxBlobBytes = 256 * 1024 * 1024;
const manifestAccept = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

export interface OciReference {
  /** host[:port] */
  registry: string;
  repository: string;
}

export function parseOciUrl(url: string): OciReference {
  const m = /^oci:\/\/([^/]+)\/(.+?)\/?$/.exec(url);
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

  constructor(
    private readonly ref: OciReference,
    private readonly opts: { auth?: BasicAuth; insecure?: boolean; timeoutMs: number },
  ) {
    this.base = `${opts.insecure ? "http" : "https"}://${ref.registry}/v2/${ref.repository}`;
  }

  private async request(path: string, accept?: string): Promise<Response> {
    const send = (authorization?: string) =>
      fetch(`${this.base}${path}`, {
        headers: { ...(accept ? { accept } : {}), ...(authorization ? { authorization } : {}) },
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
    let response: Response;
    try {
      response = await send(this.authorization());
      if (response.status === 401 && !this.token) {
        const challenge = response.headers.get("www-authenticate") ?? "";
        if (/^bearer/i.test(challenge)) {
          this.token = await this.fetchToken(challenge);
          response = await send(this.authorization());
        } else if (/^basic/i.test(challenge) && this.opts.auth) {
          response = await send(basicAuthHeader(this.opts.auth));
        }
      }
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      throw new Error(`${this.ref.registry}/${this.ref.repository}: ${cause ?? (err as Error).message}`);
    }
    if (!response.ok) {
      throw new Error(
        `${this.ref.registry}/${this.ref.repository}${path}: HTTP ${response.status}${response.status === 401 ? " (check the secretRef credentials)" : ""}`,
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
    if (params.service) url.searchParams.set("service", params.service);
    url.searchParams.set("scope", params.scope ?? `repository:${this.ref.repository}:pull`);
    const response = await fetch(url, {
      headers: this.opts.auth ? { authorization: basicAuthHeader(this.opts.auth) } : {},
      signal: AbortSignal.timeout(this.opts.timeoutMs),
    });
    if (!response.ok) throw new Error(`${this.ref.registry}: token request failed: HTTP ${response.status}`);
    const body = (await response.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new Error(`${this.ref.registry}: token response has no token`);
    return token;
  }

  async tags(): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = "/tags/list?n=1000";
    while (path) {
      const response = await this.request(path);
      const body = (await response.json()) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      const link = response.headers.get("link");
      const next = link ? /<([^>]+)>/.exec(link)?.[1] : undefined;
      path = next ? next.replace(/^.*\/tags\/list/, "/tags/list") : undefined;
    }
    return tags;
  }

  async manifest(reference: string): Promise<OciManifest> {
    const response = await this.request(`/manifests/${reference}`, manifestAccept);
    const text = await response.text();
    const digest = response.headers.get("docker-content-digest") ?? `sha256:${sha256Hex(text)}`;
    const body = JSON.parse(text) as Omit<OciManifest, "digest">;
    if (!Array.isArray(body.layers)) {
      throw new Error(`${this.ref.registry}/${this.ref.repository}:${reference} is not an image manifest`);
    }
    return { ...body, digest };
  }

  /** Downloads a blob into the cache (by digest) and returns the file path. */
  async blob(cacheDir: string, digest: string): Promise<string> {
    const hex = digest.replace(/^sha256:/, "");
    return cached(cachePath(cacheDir, "oci-blobs", hex), async (tmp) => {
      const response = await this.request(`/blobs/${digest}`);
      const body = Buffer.from(await response.arrayBuffer());
      if (body.length > maxBlobBytes) throw new Error(`blob ${digest} is larger than ${maxBlobBytes} bytes`);
      if (sha256Hex(body) !== hex) throw new Error(`blob ${digest} does not match its digest`);
      writeFileSync(tmp, body);
    });
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

/** Extracts a gzipped tarball with the real tar; members cannot land outside `dir` (GNU tar's default). */
export function extractTarGz(file: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  return new Promise((resolve, reject) => {
    execFile(
      "tar",
      ["-xzf", file, "-C", dir, "--no-same-owner", "--no-same-permissions", "--no-overwrite-dir"],
      (err, _stdout, stderr) =>
        err ? reject(new Error(`extracting ${file}: ${stderr.trim() || err.message}`)) : resolve(),
    );
  });
}

/** Reads one file out of a gzipped tarball (e.g. a chart's Chart.yaml). */
export function readFromTarGz(file: string, pattern: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "tar",
      ["-xzOf", file, "--wildcards", "--no-wildcards-match-slash", pattern],
      { maxBuffer: 8 * 1024 * 1024 },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`reading ${pattern} from the chart: ${stderr.trim() || err.message}`))
          : resolve(stdout),
    );
  });
}
