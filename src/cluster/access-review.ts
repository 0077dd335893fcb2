// Asking the API server what the current identity (an impersonated ServiceAccount, usually) may do, without
// doing it: a SelfSubjectAccessReview. RBAC is checked on resource names, so this works for kinds whose CRD the
// cluster does not have (Flux's own kinds, which gitops-bot reconciles itself instead of applying).
import type { KubernetesObject } from "@kubernetes/client-node";
import type { RawObjectApi } from "./kube-client.js";
import { groupOf } from "./ssa/object-id.js";

/** The plural resource name of a kind, as CRDs conventionally name it (`Kustomization` → `kustomizations`). */
export function resourceOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  if (/(s|x|ch|sh)$/.test(lower)) return `${lower}es`;
  return `${lower}s`;
}

interface AccessReview extends KubernetesObject {
  status?: { allowed?: boolean; reason?: string };
}

/** Whether the API client's identity may server-side apply (`patch`) `obj` in `namespace`. */
export async function mayApply(
  api: RawObjectApi,
  obj: KubernetesObject,
  namespace: string,
): Promise<boolean> {
  const review = await api.create<AccessReview>({
    apiVersion: "authorization.k8s.io/v1",
    kind: "SelfSubjectAccessReview",
    spec: {
      resourceAttributes: {
        group: groupOf(obj.apiVersion),
        resource: resourceOf(obj.kind ?? ""),
        verb: "patch",
        namespace,
        name: obj.metadata?.name,
      },
    },
  } as KubernetesObject);
  return review.status?.allowed === true;
}
