// Helm HTTP repositories (HelmRepository of type default): the index.yaml, choosing a chart version by a
// semver range as source-controller does, and downloading the chart archive into the content-addressed cache.
import { createHash } from "node:crypto";
import semver from "semver";
import { parse } from "yaml";
import { z } from "zod";
import type { OutboundPolicy } from "../util/outbound/index.js";
import { cached, cachePath, sha256Hex } from "./cache.js";
import { type BasicAuth, basicAuthHeader, displayUrl } from "./credentials.js";
import { Deadline, readBody, sourceGet, statusText, writeBody } from "./http.js";

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

/**
 * A GET under the outbound policy whose body is read with a bound. The credentials go to the URL's own origin
 * only (a redirect to another host gets none, as in Helm).
 */
async function get(
  url: string,
  auth: BasicAuth | undefined,
  opts: { policy: OutboundPolicy; deadline: Deadline; maxBytes: number },
) {
  const response = await sourceGet(url, {
    policy: opts.policy,
    deadline: opts.deadline,
    headers: { authorization: auth ? basicAuthHeader(auth) : undefined },
    maxBytes: opts.maxBytes,
  });
  if (response.status < 200 || response.status >= 300) {
    response.discard();
    const where = response.redirects > 0 ? displayUrl(response.url.toString()) : displayUrl(url);
    throw new Error(`GET ${where}: ${statusText(response.status)}`);
  }
  return response;
}

export async function fetchHelmIndex(
  repoUrl: string,
  auth: BasicAuth | undefined,
  opts: { timeoutMs: number; policy: OutboundPolicy },
): Promise<HelmIndexResult> {
  const url = `${repoUrl.replace(/\/+$/, "")}/index.yaml`;
  const deadline = new Deadline(opts.timeoutMs);
  const response = await get(url, auth, { policy: opts.policy, deadline, maxBytes: maxIndexBytes });
  const body = await readBody(response, deadline);
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

/** The index's digest of a chart archive as 64 hex digits (Helm writes bare hex; `sha256:` is accepted). */
function chartDigest(entry: HelmIndexEntry): string | undefined {
  if (entry.digest === undefined || entry.digest === "") return undefined;
  const hex = entry.digest.replace(/^sha256:/, "");
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new Error(
      `chart ${entry.name} ${entry.version}: index digest "${entry.digest}" is not a sha256 digest`,
    );
  return hex;
}

/**
 * Downloads a chart archive into the cache (under the credential `scope`, keyed by the index digest, else URL
 * and version); returns its path.
 */
export async function downloadChart(
  cacheDir: string,
  repoUrl: string,
  entry: HelmIndexEntry,
  auth: BasicAuth | undefined,
  opts: { passCredentials: boolean; timeoutMs: number; scope: string; policy: OutboundPolicy },
): Promise<string> {
  const base = `${repoUrl.replace(/\/+$/, "")}/`;
  const url = new URL(entry.urls[0] as string, base);
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new Error(`chart ${entry.name} ${entry.version}: URL ${displayUrl(url.toString())} is not http(s)`);
  // Like Helm, credentials go to another host only when passCredentials says so.
  const sameHost = url.host === new URL(base).host;
  const digest = chartDigest(entry);
  const key = digest ? `${digest}.tgz` : `${sha256Hex(`${url}@${entry.version}`)}.tgz`;
  return cached(cachePath(cacheDir, `helm-charts/${opts.scope}`, key), async (tmp) => {
    const deadline = new Deadline(opts.timeoutMs);
    const hash = createHash("sha256");
    const response = await get(url.toString(), sameHost || opts.passCredentials ? auth : undefined, {
      policy: opts.policy,
      deadline,
      maxBytes: maxChartBytes,
    });
    await writeBody(response, tmp, deadline, (chunk) => hash.update(chunk));
    const actual = hash.digest("hex");
    if (digest && actual !== digest) {
      throw new Error(
        `${displayUrl(url.toString())}: digest ${actual} does not match the index (${entry.digest})`,
      );
    }
  });
}
