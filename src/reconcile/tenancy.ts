// Multi-tenancy as Flux's lockdown has it (`--no-cross-namespace-refs`, `--default-service-account`): what one
// repository may make the engine do on one cluster. The operator grants it (config/operator-config.ts); the
// engine gets it as a TenancyPolicy and checks every Flux object, every rendered object and every Secret or
// ConfigMap it reads against it. Pure: no cluster access here (RBAC of impersonated ServiceAccounts is the
// API server's part, see run.ts).
import type { KubernetesObject } from "@kubernetes/client-node";
import { namespacesMatch, type RepositoryGrant } from "../config/operator-config.js";
import type { FluxHelmRelease } from "../flux/helm-release.js";
import type { FluxKustomization } from "../flux/kustomization.js";
import type { FluxSource } from "../flux/sources.js";
import type { SecretReader } from "../util/secret-reader.js";

export interface TenancyPolicy {
  /** Who the limits are for, as messages say it: `repository acme/app on cluster dev`. */
  tenant: string;
  /** Namespaces (`*` wildcards) objects, targetNamespace and every Secret/ConfigMap read may be in; absent: any. */
  namespaces?: readonly string[];
  /** Whether cluster-scoped kinds (Namespaces, CRDs, ClusterRoles, …) may be applied. */
  clusterScoped: boolean;
  /** Whether sourceRef, chart sources and dependsOn may name another namespace. */
  crossNamespaceRefs: boolean;
  /** ServiceAccount (in the object's namespace) impersonated when a Kustomization or HelmRelease names none. */
  defaultServiceAccount?: string;
}

/** The policy of an operator grant for `repository` (owner/repo) on `cluster`. */
export function tenancyFromGrant(grant: RepositoryGrant, repository: string, cluster: string): TenancyPolicy {
  return {
    tenant: `repository ${repository} on cluster ${cluster}`,
    ...(grant.namespaces ? { namespaces: [...grant.namespaces] } : {}),
    clusterScoped: grant.clusterScoped,
    crossNamespaceRefs: grant.crossNamespaceRefs,
    ...(grant.serviceAccountName ? { defaultServiceAccount: grant.serviceAccountName } : {}),
  };
}

/** One broken rule: the field it is about and why. */
export interface Violation {
  field: string;
  reason: string;
}

/** Why `namespace` may not be used, or undefined when it may. */
export function namespaceRefusal(policy: TenancyPolicy | undefined, namespace: string): string | undefined {
  if (!policy?.namespaces) return undefined;
  return namespacesMatch(policy.namespaces, namespace)
    ? undefined
    : `namespace ${namespace} is not allowed for ${policy.tenant}`;
}

/** `Kind/namespace/name violation; violation` — one line naming the object, every field and every rule. */
export function describeViolations(subject: string, violations: Violation[]): string {
  return `${subject}: ${violations.map((v) => `${v.field}: ${v.reason}`).join("; ")}`;
}

function namespaceViolation(
  policy: TenancyPolicy | undefined,
  field: string,
  namespace: string | undefined,
): Violation[] {
  const reason = namespace === undefined ? undefined : namespaceRefusal(policy, namespace);
  return reason ? [{ field, reason }] : [];
}

function crossNamespaceViolation(
  policy: TenancyPolicy | undefined,
  field: string,
  own: string,
  ref: { kind: string; name: string; namespace?: string },
): Violation[] {
  if (!policy || policy.crossNamespaceRefs || !ref.namespace || ref.namespace === own) return [];
  return [
    {
      field,
      reason: `cross-namespace reference to ${ref.kind}/${ref.namespace}/${ref.name} is not allowed for ${policy.tenant}`,
    },
  ];
}

/**
 * A Kustomization's own namespace (where its substituteFrom ConfigMaps and Secrets are read), its
 * targetNamespace, health checks, and its source and dependencies in other namespaces. A source reference that
 * stands for the repository itself (`isSelf`) is no other tenant's: it may name any namespace.
 */
export function kustomizationViolations(
  policy: TenancyPolicy | undefined,
  ks: FluxKustomization,
  isSelf: (ref: { kind: string; name: string; namespace?: string }) => boolean,
): Violation[] {
  if (!policy) return [];
  const spec = ks.spec;
  return [
    ...namespaceViolation(policy, "metadata.namespace", ks.namespace),
    ...namespaceViolation(policy, "spec.targetNamespace", spec.targetNamespace),
    ...(isSelf(spec.sourceRef)
      ? []
      : [
          ...crossNamespaceViolation(policy, "spec.sourceRef.namespace", ks.namespace, spec.sourceRef),
          ...namespaceViolation(policy, "spec.sourceRef.namespace", spec.sourceRef.namespace),
        ]),
    ...(spec.dependsOn ?? []).flatMap((d, i) =>
      crossNamespaceViolation(policy, `spec.dependsOn[${i}].namespace`, ks.namespace, {
        kind: "Kustomization",
        ...d,
      }),
    ),
    ...(spec.healthChecks ?? []).flatMap((h, i) =>
      namespaceViolation(policy, `spec.healthChecks[${i}].namespace`, h.namespace),
    ),
  ];
}

/** A HelmRelease's namespace (its valuesFrom are read there), release and storage namespaces, chart and dependencies. */
export function helmReleaseViolations(policy: TenancyPolicy | undefined, hr: FluxHelmRelease): Violation[] {
  if (!policy) return [];
  const spec = hr.spec;
  const chartRef = spec.chart?.spec.sourceRef;
  return [
    ...namespaceViolation(policy, "metadata.namespace", hr.namespace),
    ...namespaceViolation(policy, "spec.targetNamespace", spec.targetNamespace),
    ...namespaceViolation(policy, "spec.storageNamespace", spec.storageNamespace),
    ...(chartRef
      ? [
          ...crossNamespaceViolation(policy, "spec.chart.spec.sourceRef.namespace", hr.namespace, chartRef),
          ...namespaceViolation(policy, "spec.chart.spec.sourceRef.namespace", chartRef.namespace),
        ]
      : []),
    ...(spec.chartRef
      ? [
          ...crossNamespaceViolation(policy, "spec.chartRef.namespace", hr.namespace, spec.chartRef),
          ...namespaceViolation(policy, "spec.chartRef.namespace", spec.chartRef.namespace),
        ]
      : []),
    ...(spec.dependsOn ?? []).flatMap((d, i) =>
      crossNamespaceViolation(policy, `spec.dependsOn[${i}].namespace`, hr.namespace, {
        kind: "HelmRelease",
        ...d,
      }),
    ),
  ];
}

/** A source's namespace: its secretRef (credentials) is read there. */
export function sourceViolations(policy: TenancyPolicy | undefined, source: FluxSource): Violation[] {
  return namespaceViolation(policy, "metadata.namespace", source.namespace);
}

/**
 * A rendered object as it will be applied (namespace defaulted). `namespaced`: the kind's scope from discovery,
 * undefined when the API server does not serve the kind (yet).
 */
export function objectViolations(
  policy: TenancyPolicy | undefined,
  obj: KubernetesObject,
  namespaced: boolean | undefined,
): Violation[] {
  if (!policy) return [];
  const out: Violation[] = [];
  const namespace = obj.metadata?.namespace;
  if (namespaced === false || (namespaced === undefined && !namespace)) {
    if (!policy.clusterScoped) {
      out.push({
        field: "kind",
        reason:
          namespaced === false
            ? `cluster-scoped kind ${obj.kind} is not allowed for ${policy.tenant}`
            : `kind ${obj.kind} is not served by the API server and has no namespace, so it may be cluster-scoped, which is not allowed for ${policy.tenant}`,
      });
    }
    if (obj.kind === "Namespace" && obj.apiVersion === "v1" && obj.metadata?.name) {
      out.push(...namespaceViolation(policy, "metadata.name", obj.metadata.name));
    }
    return out;
  }
  return namespaceViolation(policy, "metadata.namespace", namespace);
}

/** A SecretReader that reads nothing outside the policy's namespaces (source credentials). */
export function tenantSecretReader(reader: SecretReader, policy: TenancyPolicy | undefined): SecretReader {
  if (!policy?.namespaces) return reader;
  return async (namespace, name) => {
    const refused = namespaceRefusal(policy, namespace);
    if (refused) throw new Error(`Secret ${namespace}/${name}: ${refused}`);
    return reader(namespace, name);
  };
}

/** The user a Kustomization's or HelmRelease's cluster operations run as, when not the bot's own identity. */
export function impersonatedUser(
  policy: TenancyPolicy | undefined,
  namespace: string,
  serviceAccountName: string | undefined,
): string | undefined {
  const name = serviceAccountName || policy?.defaultServiceAccount;
  if (!name) return undefined;
  // The user name is built from repository strings: anything but a valid name could name another user.
  if (!SERVICE_ACCOUNT_NAME.test(name) || name.length > 253)
    throw new Error(`serviceAccountName "${name}" is not a valid ServiceAccount name`);
  if (!NAMESPACE_NAME.test(namespace) || namespace.length > 63)
    throw new Error(`namespace "${namespace}" is not a valid namespace name`);
  return `system:serviceaccount:${namespace}:${name}`;
}

const SERVICE_ACCOUNT_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
