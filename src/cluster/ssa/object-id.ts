// Stable object identities, as Flux's ssa package and inventory write them: `namespace_name_group_kind`
// (namespace empty for cluster-scoped objects, group empty for the core API).
import type { KubernetesObject } from "@kubernetes/client-node";

export interface ObjectMetadataRef {
  namespace: string;
  name: string;
  group: string;
  kind: string;
}

export function groupOf(apiVersion: string | undefined): string {
  const slash = (apiVersion ?? "").indexOf("/");
  return slash === -1 ? "" : (apiVersion ?? "").slice(0, slash);
}

export function objectRef(obj: KubernetesObject): ObjectMetadataRef {
  return {
    namespace: obj.metadata?.namespace ?? "",
    name: obj.metadata?.name ?? "",
    group: groupOf(obj.apiVersion),
    kind: obj.kind ?? "",
  };
}

export function objectId(obj: KubernetesObject): string {
  const r = objectRef(obj);
  return `${r.namespace}_${r.name}_${r.group}_${r.kind}`;
}

export function parseObjectId(id: string): ObjectMetadataRef {
  // Names and namespaces cannot contain "_", groups and kinds cannot either, so splitting is unambiguous.
  const parts = id.split("_");
  if (parts.length !== 4) throw new Error(`malformed object id "${id}"`);
  const [namespace, name, group, kind] = parts as [string, string, string, string];
  return { namespace, name, group, kind };
}

/** The human form used in messages and tables: `Kind/namespace/name` or `Kind/name`. */
export function subjectOf(obj: KubernetesObject | ObjectMetadataRef): string {
  const r =
    "metadata" in obj || "apiVersion" in obj
      ? objectRef(obj as KubernetesObject)
      : (obj as ObjectMetadataRef);
  return r.namespace ? `${r.kind}/${r.namespace}/${r.name}` : `${r.kind}/${r.name}`;
}
