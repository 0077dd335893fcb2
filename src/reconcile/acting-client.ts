// Who a Kustomization's or HelmRelease's cluster operations act as, and what an untrusted run may see of live
// values. Shared by both reconcilers.
import type { RawObjectApi } from "../cluster/kube-client.js";
import { maskRemovedValues } from "../util/diff-mask.js";
import type { ReconcileOptions } from "./options.js";
import { impersonatedUser } from "./tenancy.js";

/**
 * The API client a Kustomization's or HelmRelease's cluster operations use: the bot's own, or (its
 * serviceAccountName, else the policy's default) the ServiceAccount's, impersonated, so that RBAC decides.
 */
export function clientFor(
  api: RawObjectApi,
  opts: Pick<ReconcileOptions, "tenancy">,
  obj: { namespace: string; spec: { serviceAccountName?: string } },
): { api: RawObjectApi; user?: string } {
  const user = impersonatedUser(opts.tenancy, obj.namespace, obj.spec.serviceAccountName);
  return user ? { api: api.impersonating(user), user } : { api };
}

/**
 * An untrusted run (a fork's pull request) reads no Secret, so it cannot know which live values came from one (a
 * trusted run's substituteFrom or Helm valuesFrom); it sees the keys of live-only lines, never their values.
 */
export function maskLiveValues(entries: { diff?: string }[]): void {
  for (const entry of entries) if (entry.diff) entry.diff = maskRemovedValues(entry.diff);
}
