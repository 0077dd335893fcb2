// A 403 from the API server, turned into what was refused and which RBAC rule would allow it, for statuses and
// check runs: "Forbidden" alone sends the user to the API server's audit log.
// It lives in cluster/ (below preflight/) so cluster/ssa and the reconcile path can use it without importing upward.
import { apiMessage, apiStatus } from "../kube-client.js";
import { type Permission, rbacRuleFor } from "./permission.js";

/** The API server's RBAC refusal message (`User "x" cannot create resource "y" in API group "" …`). */
const REFUSAL =
  /User "([^"]+)" cannot (\S+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)"| at the cluster scope)?/;

/** The permission a refusal message names, or undefined when the message is not an RBAC refusal. */
export function refusedPermission(message: string): (Permission & { user: string }) | undefined {
  const m = REFUSAL.exec(message);
  if (!m) return undefined;
  const [, user, verb, resource, group, namespace] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  // The object's name comes first: `configmaps "settings" is forbidden: …`.
  let name = /^[^\s"]+ "([^"]+)" is forbidden/.exec(message)?.[1];
  // Impersonation is refused on `users "system:serviceaccount:ns:sa"`; RBAC names the ServiceAccount itself.
  if (name && resource === "serviceaccounts" && verb === "impersonate") name = name.split(":").at(-1);
  return {
    user,
    verb,
    resource,
    group,
    ...(namespace ? { namespace } : {}),
    ...(name ? { name } : {}),
  };
}

/** Explains a refusal message in one line, or undefined when it is not an RBAC refusal. */
export function explainForbiddenMessage(message: string): string | undefined {
  const p = refusedPermission(message);
  if (!p) return undefined;
  const where = p.namespace ? `in namespace ${p.namespace}` : "cluster-wide";
  const group = p.group ? `API group ${p.group}` : "the core API group";
  const object = p.name ? ` (${p.resource}/${p.name})` : "";
  const { name: _name, ...rule } = p;
  return `RBAC refused ${p.user}: ${p.verb} ${p.resource} in ${group} ${where}${object}; allowed by ${rbacRuleFor(rule, p.user)}`;
}

/**
 * For a failed API call: the explanation when it is a 403 RBAC refusal, else undefined. Call it where a
 * reconcile turns an API error into its message, and append the result.
 */
export function explainForbidden(err: unknown): string | undefined {
  if (apiStatus(err) !== 403) return undefined;
  return explainForbiddenMessage(apiMessage(err));
}
