// Asking the API server what the current identity (an impersonated ServiceAccount, usually) may do, without
// doing it: a SelfSubjectAccessReview. RBAC is checked on resource names, so this works for kinds whose CRD the
// cluster does not have (Flux's own kinds, which gitops-bot reconciles itself instead of applying).
import type { KubernetesObject } from "@kubernetes/client-node";
import type { RawObjectApi } from "./kube-client.js";
import type { Permission } from "./preflight/permission.js";
import { groupOf } from "./ssa/object-id.js";

/** The plural resource name of a kind, as CRDs conventionally name it (`Kustomization` → `kustomizations`). */
export function resourceOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  if (/(s|x|ch|sh)$/.test(lower)) return `${lower}es`;
  return `${lower}s`;
}

interface AccessReview extends KubernetesObject {
  status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
}

/** Whether the API client's identity (or `p.as`, impersonated) may do `p`. */
export async function reviewPermission(api: RawObjectApi, p: Permission): Promise<boolean> {
  const client = p.as ? api.impersonating(p.as) : api;
  const [resource, subresource] = p.resource.split("/");
  const review = await client.create<AccessReview>({
    apiVersion: "authorization.k8s.io/v1",
    kind: "SelfSubjectAccessReview",
    spec: {
      resourceAttributes: {
        verb: p.verb,
        group: p.group,
        resource,
        ...(subresource ? { subresource } : {}),
        ...(p.namespace ? { namespace: p.namespace } : {}),
        ...(p.name ? { name: p.name } : {}),
      },
    },
  } as KubernetesObject);
  return review.status?.allowed === true;
}

/** Whether the API client's identity may server-side apply (`patch`) `obj` in `namespace`. */
export function mayApply(api: RawObjectApi, obj: KubernetesObject, namespace: string): Promise<boolean> {
  return reviewPermission(api, {
    verb: "patch",
    group: groupOf(obj.apiVersion),
    resource: resourceOf(obj.kind ?? ""),
    namespace,
    ...(obj.metadata?.name ? { name: obj.metadata.name } : {}),
  });
}
