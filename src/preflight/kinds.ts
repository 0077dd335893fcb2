// Resource names and scopes of the kinds a tree applies: from the tree's own CRDs first (their kinds are not
// served before the first apply), then the API server's discovery, else the conventional plural.
import type { KubernetesObject } from "@kubernetes/client-node";
import { resourceOf } from "../cluster/access-review.js";
import { apiStatus, type RawObjectApi } from "../cluster/kube-client.js";
import { groupOf } from "../cluster/ssa/object-id.js";
import type { TreePlan } from "../reconcile/plan.js";
import type { KindInfo, KindResolver } from "./requirements.js";

interface CrdObject extends KubernetesObject {
  spec?: { group?: string; scope?: string; names?: { kind?: string; plural?: string } };
}

const key = (group: string, kind: string) => `${group}/${kind}`;

/** Kinds defined by the CRDs among `objects`. */
export function crdKinds(objects: readonly KubernetesObject[]): Map<string, KindInfo> {
  const out = new Map<string, KindInfo>();
  for (const o of objects as CrdObject[]) {
    if (o.kind !== "CustomResourceDefinition" || !o.apiVersion?.startsWith("apiextensions.k8s.io/")) continue;
    const { group, scope, names } = o.spec ?? {};
    if (group === undefined || !names?.kind || !names.plural) continue;
    out.set(key(group, names.kind), { resource: names.plural, namespaced: scope !== "Cluster" });
  }
  return out;
}

/**
 * client-node's discovery lookup (cached per client). It is `protected` in KubernetesObjectApi and kube-client.ts
 * exposes only its scope (`isNamespaced`), while RBAC needs the resource's name too.
 */
function discover(
  api: RawObjectApi,
  apiVersion: string,
  kind: string,
): Promise<{ name: string; namespaced: boolean } | undefined> {
  const withDiscovery = api as unknown as {
    resource(apiVersion: string, kind: string): Promise<{ name: string; namespaced: boolean } | undefined>;
  };
  return withDiscovery.resource(apiVersion, kind);
}

/** Resolves every kind the plan's objects use, then answers synchronously. */
export async function resolveKinds(api: RawObjectApi, plan: TreePlan): Promise<KindResolver> {
  const objects = plan.kustomizations.flatMap((p) => p.objects);
  const known = crdKinds(objects);
  const wanted = new Map<string, { apiVersion: string; kind: string; hasNamespace: boolean }>();
  for (const o of objects) {
    const apiVersion = o.apiVersion ?? "";
    const kind = o.kind ?? "";
    const k = key(groupOf(apiVersion), kind);
    if (known.has(k)) continue;
    const seen = wanted.get(`${apiVersion}/${kind}`);
    wanted.set(`${apiVersion}/${kind}`, {
      apiVersion,
      kind,
      hasNamespace: Boolean(seen?.hasNamespace || o.metadata?.namespace),
    });
  }
  for (const { apiVersion, kind, hasNamespace } of wanted.values()) {
    let resource: { name: string; namespaced: boolean } | undefined;
    try {
      resource = await discover(api, apiVersion, kind);
    } catch (err) {
      if (apiStatus(err) !== 404) throw err;
    }
    known.set(
      key(groupOf(apiVersion), kind),
      resource
        ? { resource: resource.name, namespaced: resource.namespaced }
        : { resource: resourceOf(kind), namespaced: hasNamespace },
    );
  }
  return (apiVersion, kind) =>
    known.get(key(groupOf(apiVersion), kind)) ?? { resource: resourceOf(kind), namespaced: true };
}
