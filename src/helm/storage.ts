// Helm's own release storage (the Secrets driver, `sh.helm.release.v1.<name>.v<revision>`), read through the
// API: the labels gitops-bot puts on a release (`helm --labels`) say which HelmRelease and scope own it and
// which chart, version and values it was made from, so a run needs no state of its own and `helm list` /
// `helm history` keep working as usual.
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
