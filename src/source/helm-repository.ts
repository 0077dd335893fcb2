// Helm HTTP repositories (HelmRepository of type default): the index.yaml, choosing a chart version by a
// semver range as source-controller does, and downloading the chart archive into the content-addressed cache.
import { writeFileSync } from "node:fs";
import semver from "semver";
import { parse } from "yaml";
import { z } from "zod";
import { cached, cachePath, sha256Hex } from "./cache.js";
import { type BasicAuth, basicAuthHeader, displayUrl } from "./credentials.js";

const maxIndexBytes = 64 * 1024 * 1024;
const maxChartBytes = 64 * 1024 * 1024;

const indexSchema = z.object({
  apiVersion: z.string().optional(),
  entries: z
    .record(
      z.string(),
      z.array(
        z
          .object({
            name: z.string(),
            version: z.string(),
            urls: z.array(z.string()).min(1),
            digest: z.string().optional(),
          })
          .passthrough(),
      ),
    )
    .nullish(),
});

export type HelmIndex = z.infer<typeof indexSchema>;
export type HelmIndexEntry = NonNullable<HelmIndex["entries"]>[string][number];

export interface HelmIndexResult {
  index: HelmIndex;
  /** Flux reports a HelmRepository's revision as the digest of its index. */
  revision: string;
}

async function fetchBytes(
  url: string,
  auth: BasicAuth | undefined,
  limit: number,
  timeoutMs: number,
): Promise<Buffer> {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = basicAuthHeader(auth);
  let response: Response;
  try {
    response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs), redirect: "follow" });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new Error(`GET ${displayUrl(url)}: ${cause ?? (err as Error).message}`);
  }
  if (!response.ok) {
    throw new Error(
      `GET ${displayUrl(url)}: HTTP ${response.status}${response.status === 401 ? " (check the secretRef credentials)" : ""}`,
    );
  }
  const length = Number(response.headers.get("content-length") ?? 0);
  if (length > limit) throw new Error(`GET ${displayUrl(url)}: larger than the ${limit}-byte limit`);
  const body = Buffer.from(await response.arrayBuffer());
  if (body.length > limit) throw new Error(`GET ${displayUrl(url)}: larger than the ${limit}-byte limit`);
  return body;
}

export async function fetchHelmIndex(
  repoUrl: string,
  auth: BasicAuth | undefined,
  timeoutMs: number,
): Promise<HelmIndexResult> {
  const url = `${repoUrl.replace(/\/+$/, "")}/index.yaml`;
  const body = await fetchBytes(url, auth, maxIndexBytes, timeoutMs);
  let raw: unknown;
  try {
    raw = parse(body.toString("utf8"), { maxAliasCount: 100 });
  } catch (err) {
    throw new Error(`${displayUrl(url)} is not valid YAML: ${(err as Error).message}`);
  }
  const parsed = indexSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${displayUrl(url)} is not a Helm repository index: ${(issue?.path ?? []).join(".")} ${issue?.message ?? ""}`,
    );
  }
  return { index: parsed.data, revision: `sha256:${sha256Hex(body)}` };
}

/**
 * The highest version of `chart` satisfying `range` (Flux's default `*`: the latest stable version). An exact
 * version matches itself even when it is a pre-release.
 */
export function selectChartVersion(versions: string[], range: string | undefined): string | undefined {
  const wanted = (range ?? "*").trim() || "*";
  const exact = versions.find((v) => v === wanted || v === `v${wanted}`);
  if (exact) return exact;
  if (!semver.validRange(wanted)) throw new Error(`"${wanted}" is not a valid semver range`);
  const valid = versions.filter((v) => semver.valid(v, { loose: true }));
  return semver.maxSatisfying(valid, wanted, { loose: true }) ?? undefined;
}

export function findChart(index: HelmIndex, chart: string, range: string | undefined): HelmIndexEntry {
  const entries = index.entries?.[chart] ?? [];
  if (entries.length === 0) throw new Error(`chart "${chart}" is not in the repository index`);
  const version = selectChartVersion(
    entries.map((e) => e.version),
    range,
  );
  const entry = entries.find((e) => e.version === version);
  if (!entry) {
    throw new Error(
      `no version of chart "${chart}" matches "${range ?? "*"}" (available: ${entries
        .map((e) => e.version)
        .slice(0, 10)
        .join(", ")})`,
    );
  }
  return entry;
}

/** Downloads a chart archive into the cache (keyed by the index digest, else URL and version); returns its path. */
export async function downloadChart(
  cacheDir: string,
  repoUrl: string,
  entry: HelmIndexEntry,
  auth: BasicAuth | undefined,
  opts: { passCredentials: boolean; timeoutMs: number },
): Promise<string> {
  const base = `${repoUrl.replace(/\/+$/, "")}/`;
  const url = new URL(entry.urls[0] as string, base).toString();
  // Like Helm, credentials go to another host only when passCredentials says so.
  const sameHost = new URL(url).host === new URL(base).host;
  const key = entry.digest ? `${entry.digest}.tgz` : `${sha256Hex(`${url}@${entry.version}`)}.tgz`;
  return cached(cachePath(cacheDir, "helm-charts", key), async (tmp) => {
    const body = await fetchBytes(
      url,
      sameHost || opts.passCredentials ? auth : undefined,
      maxChartBytes,
      opts.timeoutMs,
    );
    if (entry.digest && sha256Hex(body) !== entry.digest) {
      throw new Error(
        `${displayUrl(url)}: digest ${sha256Hex(body)} does not match the index (${entry.digest})`,
      );
    }
    writeFileSync(tmp, body);
  });
}
