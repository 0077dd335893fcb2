// Asking the API server whether an identity may do each thing a tree needs: one SelfSubjectAccessReview per
// permission, as that identity (impersonated for a ServiceAccount), a few at a time.
import { reviewPermission } from "../cluster/access-review.js";
import { apiMessage, type RawObjectApi } from "../cluster/kube-client.js";
import type { Requirement } from "../cluster/preflight/permission.js";
import { mapLimit } from "../reconcile/concurrency.js";

export interface AccessResult {
  requirement: Requirement;
  allowed: boolean;
  /** Why the review could not be answered (the identity may not even ask, e.g. impersonation refused). */
  error?: string;
}

export { reviewPermission };

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
