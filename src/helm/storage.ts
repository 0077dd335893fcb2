// Helm's own release storage (the Secrets driver, `sh.helm.release.v1.<name>.v<revision>`), read through the
// API: the labels gitops-bot puts on a release (`helm --labels`) say which HelmRelease and scope own it and
// which chart, version and values it was made from, so a run needs no state of its own and `helm list` /
// `helm history` keep working as usual.
import { gunzipSync, gzipSync } from "node:zlib";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { RawObjectApi } from "../cluster/kube-client.js";

export const HR_NAME_LABEL = "helm.toolkit.fluxcd.io/name";
export const HR_NAMESPACE_LABEL = "helm.toolkit.fluxcd.io/namespace";
export const SCOPE_LABEL = "gitops-bot.dev/scope";
export const DIGEST_LABEL = "gitops-bot.dev/release-digest";

export interface ReleaseRevision {
  name: string;
  namespace: string;
  revision: number;
  /** deployed, failed, superseded, uninstalled, pending-install, pending-upgrade, pending-rollback, ... */
  status: string;
  labels: Record<string, string>;
}

interface SecretList {
  items?: KubernetesObject[];
}

function toRevision(obj: KubernetesObject): ReleaseRevision | undefined {
  const labels = obj.metadata?.labels ?? {};
  if (labels.owner !== "helm" || !labels.name) return undefined;
  return {
    name: labels.name,
    namespace: obj.metadata?.namespace ?? "",
    revision: Number(labels.version ?? 0),
    status: labels.status ?? "unknown",
    labels,
  };
}

async function listReleaseSecrets(
  api: RawObjectApi,
  namespace: string | undefined,
  labelSelector: string,
): Promise<ReleaseRevision[]> {
  const list = (await api.list(
    "v1",
    "Secret",
    namespace,
    undefined,
    undefined,
    undefined,
    undefined,
    labelSelector,
  )) as SecretList;
  return (list.items ?? []).map(toRevision).filter((r): r is ReleaseRevision => r !== undefined);
}

/** Every revision of one release, oldest first. */
export async function releaseHistory(
  api: RawObjectApi,
  namespace: string,
  releaseName: string,
): Promise<ReleaseRevision[]> {
  const revisions = await listReleaseSecrets(api, namespace, `owner=helm,name=${releaseName}`);
  return revisions.sort((a, b) => a.revision - b.revision);
}

/** The latest revision of each release that carries this scope's label, across all namespaces. */
export async function releasesOfScope(api: RawObjectApi, scopeHash: string): Promise<ReleaseRevision[]> {
  const revisions = await listReleaseSecrets(api, undefined, `owner=helm,${SCOPE_LABEL}=${scopeHash}`);
  const latest = new Map<string, ReleaseRevision>();
  for (const r of revisions) {
    const key = `${r.namespace}/${r.name}`;
    if ((latest.get(key)?.revision ?? -1) < r.revision) latest.set(key, r);
  }
  return [...latest.values()];
}

interface ReleaseSecret extends KubernetesObject {
  data?: Record<string, string>;
}

function secretName(r: ReleaseRevision): string {
  return `sh.helm.release.v1.${r.name}.v${r.revision}`;
}

/** A stored release larger than this (unpacked) is refused; helm's own are a few megabytes at most. */
const MAX_RELEASE_BYTES = 64 * 1024 * 1024;

/** Helm's storage encoding of a release: base64 of the gzipped JSON (inside the Secret's own base64). */
export function decodeRelease(data: string): Record<string, unknown> {
  const helmEncoded = Buffer.from(data, "base64").toString("utf8");
  const raw = Buffer.from(helmEncoded, "base64");
  // Anyone who may write Secrets in the namespace can plant a "release": bound what it may unpack to.
  const json =
    raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw, { maxOutputLength: MAX_RELEASE_BYTES }) : raw;
  return JSON.parse(json.toString("utf8")) as Record<string, unknown>;
}

export function encodeRelease(release: Record<string, unknown>): string {
  const helmEncoded = gzipSync(Buffer.from(JSON.stringify(release))).toString("base64");
  return Buffer.from(helmEncoded).toString("base64");
}

export interface StoredRelease {
  /** The rendered manifest (what `helm get manifest` prints). */
  manifest: string;
  /** The values the release was given (what `helm get values` prints). */
  config: Record<string, unknown>;
}

/**
 * One revision's manifest and values, read from Helm's storage through the API: dry-runs need them and must
 * not hand helm a kubeconfig to get them.
 */
export async function readStoredRelease(api: RawObjectApi, r: ReleaseRevision): Promise<StoredRelease> {
  const secret = (await api.read({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: secretName(r), namespace: r.namespace },
  })) as ReleaseSecret;
  const data = secret.data?.release;
  if (!data) throw new Error(`Secret ${r.namespace}/${secretName(r)} holds no release`);
  const release = decodeRelease(data);
  const config = release.config;
  return {
    manifest: typeof release.manifest === "string" ? release.manifest : "",
    config:
      config && typeof config === "object" && !Array.isArray(config)
        ? (config as Record<string, unknown>)
        : {},
  };
}

/**
 * A release left `pending-*` (helm was killed mid-operation) locks it: every later helm command refuses.
 * helm-controller marks such a revision failed so the next upgrade can proceed; so do we.
 */
export async function markPendingFailed(api: RawObjectApi, r: ReleaseRevision): Promise<void> {
  const secret = (await api.read({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: secretName(r), namespace: r.namespace },
  })) as ReleaseSecret;
  const data = secret.data?.release;
  if (!data) throw new Error(`Secret ${r.namespace}/${secretName(r)} holds no release`);
  const release = decodeRelease(data);
  const info = (release.info ?? {}) as Record<string, unknown>;
  release.info = {
    ...info,
    status: "failed",
    description: `gitops-bot: marked failed, the release was left ${info.status ?? r.status}`,
  };
  await api.replace({
    ...secret,
    metadata: { ...secret.metadata, labels: { ...secret.metadata?.labels, status: "failed" } },
    data: { ...secret.data, release: encodeRelease(release) },
  } as ReleaseSecret);
}
