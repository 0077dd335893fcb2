// One thing an identity must be allowed to do on a cluster (a verb on a resource, in a namespace or cluster-wide),
// why the engine needs it, and the RBAC rule that would allow it. Pure: the vocabulary of the preflight check
// and of the 403 explanations.

export interface Permission {
  verb: string;
  /** API group: "" for the core group. */
  group: string;
  /** Plural resource name, with `/subresource` when there is one. */
  resource: string;
  /** Absent: cluster-wide (a cluster-scoped kind, or every namespace). */
  namespace?: string;
  /** One object's name, when the engine only ever touches that one. */
  name?: string;
  /** The user the request is made as (an impersonated ServiceAccount); absent: the bot's own identity. */
  as?: string;
}

export interface Requirement extends Permission {
  /** Why the engine needs it: `Kustomization flux-system/infra applies 3 CRDs`. */
  reasons: string[];
}

/** A stable key of a permission, for merging requirements that differ only in their reasons. */
export function permissionKey(p: Permission): string {
  return [p.as ?? "", p.verb, p.group, p.resource, p.namespace ?? "", p.name ?? ""].join("|");
}

/** `create customresourcedefinitions (cluster-wide)`, `get secrets/db in namespace apps`. */
export function describePermission(p: Permission): string {
  const what = p.name ? `${p.resource}/${p.name}` : p.resource;
  const where = p.namespace ? `in namespace ${p.namespace}` : "(cluster-wide)";
  const group = p.group ? ` (API group ${p.group})` : "";
  const who = p.as ? ` as ${p.as}` : "";
  return `${p.verb} ${what}${group} ${where}${who}`;
}

/** The RBAC PolicyRule that allows exactly `p` (put it in a Role where `p` has a namespace). */
export function policyRuleFor(p: Permission): {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
} {
  return {
    apiGroups: [p.group],
    resources: [p.resource],
    // RBAC cannot restrict create by name: the name is not known when the request is authorized.
    ...(p.name && p.verb !== "create" ? { resourceNames: [p.name] } : {}),
    verbs: [p.verb],
  };
}

/** The RBAC rule that allows `p`, and where it has to be bound, as one line of text. */
export function rbacRuleFor(p: Permission, subject?: string): string {
  const r = policyRuleFor(p);
  const rule = [
    `apiGroups: ${JSON.stringify(r.apiGroups)}`,
    `resources: ${JSON.stringify(r.resources)}`,
    ...(r.resourceNames ? [`resourceNames: ${JSON.stringify(r.resourceNames)}`] : []),
    `verbs: ${JSON.stringify(r.verbs)}`,
  ].join(", ");
  const who = subjectOfUser(subject ?? p.as);
  const binding = p.namespace
    ? `a Role (or ClusterRole) bound with a RoleBinding in namespace ${p.namespace}`
    : "a ClusterRole bound with a ClusterRoleBinding";
  return `rule {${rule}} in ${binding}${who ? ` to ${who}` : ""}`;
}

/** `ServiceAccount ns/name` for a service account user name, `User name` otherwise. */
export function subjectOfUser(user: string | undefined): string | undefined {
  if (!user) return undefined;
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user);
  return sa ? `ServiceAccount ${sa[1]}/${sa[2]}` : `User ${user}`;
}
