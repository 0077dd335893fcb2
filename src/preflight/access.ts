// Asking the API server whether an identity may do each thing a tree needs: one SelfSubjectAccessReview per
// permission, as that identity (impersonated for a ServiceAccount), a few at a time.
import type { KubernetesObject } from "@kubernetes/client-node";
import { apiMessage, type RawObjectApi } from "../cluster/kube-client.js";
import type { Permission, Requirement } from "../cluster/preflight/permission.js";
import { mapLimit } from "../reconcile/concurrency.js";

export interface AccessResult {
  requirement: Requirement;
  allowed: boolean;
  /** Why the review could not be answered (the identity may not even ask, e.g. impersonation refused). */
  error?: string;
}

interface AccessReview extends KubernetesObject {
  status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
}

/** Whether the API client's identity (or `p.as`, impersonated) may do `p`. */
export async function reviewPermission(api: RawObjectApi, p: Permission): Promise<boolean> {
  const client = p.as ? api.impersonating(p.as) : api;
  const review = await client.create<AccessReview>({
    apiVersion: "authorization.k8s.io/v1",
    kind: "SelfSubjectAccessReview",
    spec: {
      resourceAttributes: {
        verb: p.verb,
        group: p.group,
        resource: p.resource.split("/")[0],
        ...(p.resource.includes("/") ? { subresource: p.resource.split("/")[1] } : {}),
        ...(p.namespace ? { namespace: p.namespace } : {}),
        ...(p.name ? { name: p.name } : {}),
      },
    },
  } as KubernetesObject);
  return review.status?.allowed === true;
}

export async function reviewRequirements(
  api: RawObjectApi,
  requirements: readonly Requirement[],
  concurrency = 8,
): Promise<AccessResult[]> {
  return mapLimit(requirements, concurrency, async (requirement) => {
    try {
      return { requirement, allowed: await reviewPermission(api, requirement) };
    } catch (err) {
      return { requirement, allowed: false, error: apiMessage(err) };
    }
  });
}
