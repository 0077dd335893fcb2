// What a tree needs to be allowed to do on a cluster, derived from its plan (the same `buildTree` the CLI and
// the engine use): every kind and namespace it applies, CRDs and Namespaces, the Secrets and ConfigMaps it
// reads, the ServiceAccounts it acts as, the inventories the bot keeps. Pure: kinds are resolved beforehand.
import type { KubernetesObject } from "@kubernetes/client-node";
import { type Permission, permissionKey, type Requirement } from "../cluster/preflight/permission.js";
import { groupOf } from "../cluster/ssa/object-id.js";
import type { FluxSource } from "../flux/sources.js";
import type { PlannedKustomization, TreePlan } from "../reconcile/plan.js";
import { impersonatedUser, type TenancyPolicy } from "../reconcile/tenancy.js";

/** A kind as the API server serves it: its plural resource name and whether it is namespaced. */
export interface KindInfo {
  resource: string;
  namespaced: boolean;
}

export type KindResolver = (apiVersion: string, kind: string) => KindInfo;

export interface TreeRequirementsInput {
  plan: TreePlan;
  /** The sources the tree declares (their secretRefs are read with the bot's identity). */
  sources: readonly FluxSource[];
  /** GitRepository names that stand for the repository itself (never fetched, no credentials read). */
  selfSourceNames: readonly string[];
  tenancy?: TenancyPolicy;
  kindOf: KindResolver;
}

export interface TreeRequirements {
  requirements: Requirement[];
  /** What the check cannot see (failed builds, objects a chart renders). */
  notes: string[];
}

/** Verbs the engine uses on the objects it applies: live reads, LIST of many, server-side apply, prune. */
const APPLY_VERBS = ["get", "list", "create", "patch"] as const;
const INVENTORY_PREFIX = "gitops-bot-inventory-";
/** Helm keeps release history as Secrets in the release's namespace (its default storage driver). */
const HELM_STORAGE_VERBS = ["get", "list", "create", "update", "patch", "delete"] as const;

const FLUX_RESOURCES: Record<string, { group: string; resource: string }> = {
  Kustomization: { group: "kustomize.toolkit.fluxcd.io", resource: "kustomizations" },
  HelmRelease: { group: "helm.toolkit.fluxcd.io", resource: "helmreleases" },
};

class RequirementSet {
  private readonly byKey = new Map<string, Requirement>();

  add(p: Permission, reason: string): void {
    const key = permissionKey(p);
    const existing = this.byKey.get(key);
    if (existing) {
      if (!existing.reasons.includes(reason)) existing.reasons.push(reason);
    } else {
      this.byKey.set(key, { ...p, reasons: [reason] });
    }
  }

  list(): Requirement[] {
    return [...this.byKey.values()];
  }
}

/** `3 CRDs`, `1 Deployment`, `2 Ingresses`. */
function countOf(n: number, kind: string): string {
  const word = kind === "CustomResourceDefinition" ? "CRD" : kind;
  if (n === 1) return `1 ${word}`;
  return `${n} ${/(s|x|ch|sh)$/.test(word) ? `${word}es` : `${word}s`}`;
}

/** The namespace an applied object lands in, as the engine decides it (run.ts prepareObjects). */
function namespaceOf(obj: KubernetesObject, info: KindInfo, p: PlannedKustomization): string | undefined {
  if (!info.namespaced) return undefined;
  return obj.metadata?.namespace ?? p.ks.spec.targetNamespace ?? "default";
}

function kustomizationRequirements(
  set: RequirementSet,
  p: PlannedKustomization,
  input: TreeRequirementsInput,
  userOf: Map<string, string | undefined>,
): void {
  const subject = `Kustomization ${p.ks.namespace}/${p.ks.name}`;
  const as = userOf.get(`${p.ks.namespace}/${p.ks.name}`);
  if (as) {
    set.add(
      {
        verb: "impersonate",
        group: "",
        resource: "serviceaccounts",
        namespace: p.ks.namespace,
        name: as.split(":").at(-1),
      },
      `${subject} acts as ${as}`,
    );
  }
  // The inventory is the bot's own record, written with its own identity in the Kustomization's namespace.
  const inventory = `${subject} keeps its inventory in ConfigMap ${p.ks.namespace}/${INVENTORY_PREFIX}${p.ks.name}`;
  // A Namespace's own object is authorized within it, so a RoleBinding there allows this: ask in that namespace.
  set.add(
    { verb: "get", group: "", resource: "namespaces", namespace: p.ks.namespace, name: p.ks.namespace },
    inventory,
  );
  for (const verb of ["get", "patch"]) {
    set.add(
      {
        verb,
        group: "",
        resource: "configmaps",
        namespace: p.ks.namespace,
        name: `${INVENTORY_PREFIX}${p.ks.name}`,
      },
      inventory,
    );
  }
  set.add({ verb: "create", group: "", resource: "configmaps", namespace: p.ks.namespace }, inventory);

  for (const [i, ref] of (p.ks.spec.postBuild?.substituteFrom ?? []).entries()) {
    set.add(
      {
        verb: "get",
        group: "",
        resource: ref.kind === "Secret" ? "secrets" : "configmaps",
        namespace: p.ks.namespace,
        name: ref.name,
        ...(as ? { as } : {}),
      },
      `${subject} substitutes variables from ${ref.kind} ${p.ks.namespace}/${ref.name} (spec.postBuild.substituteFrom[${i}])`,
    );
  }

  const groups = new Map<string, { p: Omit<Permission, "verb">; kind: string; count: number }>();
  for (const obj of p.objects) {
    const apiVersion = obj.apiVersion ?? "";
    const kind = obj.kind ?? "";
    const info = input.kindOf(apiVersion, kind);
    const namespace = namespaceOf(obj, info, p);
    const base = { group: groupOf(apiVersion), resource: info.resource, ...(namespace ? { namespace } : {}) };
    const key = `${base.group}|${base.resource}|${namespace ?? ""}`;
    const entry = groups.get(key) ?? { p: { ...base, ...(as ? { as } : {}) }, kind, count: 0 };
    entry.count++;
    groups.set(key, entry);
  }
  for (const { p: target, kind, count } of groups.values()) {
    const reason = `${subject} applies ${countOf(count, kind)}`;
    for (const verb of APPLY_VERBS) set.add({ ...target, verb }, reason);
    if (p.ks.spec.prune) set.add({ ...target, verb: "delete" }, `${reason} (prune: true)`);
  }
}

/** Each Kustomization's and HelmRelease's identity: its ServiceAccount (or the grant's default), else the bot. */
function identities(input: TreeRequirementsInput): Map<string, string | undefined> {
  const users = new Map<string, string | undefined>();
  for (const p of input.plan.kustomizations) {
    users.set(
      `${p.ks.namespace}/${p.ks.name}`,
      impersonatedUser(input.tenancy, p.ks.namespace, p.ks.spec.serviceAccountName),
    );
  }
  return users;
}

/** Every permission a tree needs on one cluster, merged, with every reason it is needed. */
export function treeRequirements(input: TreeRequirementsInput): TreeRequirements {
  const set = new RequirementSet();
  const notes: string[] = [];
  const userOf = identities(input);
  // Found on every run: inventories of Kustomizations that left Git are looked up across namespaces.
  set.add(
    { verb: "list", group: "", resource: "configmaps" },
    "finding the inventories of Kustomizations removed from Git (to prune them)",
  );

  for (const p of input.plan.kustomizations) {
    if (p.ks.spec.suspend) continue;
    if (p.buildError || p.refused) {
      notes.push(
        `Kustomization ${p.ks.namespace}/${p.ks.name} did not build (${p.refused ?? p.buildError}); its objects are not checked`,
      );
      continue;
    }
    kustomizationRequirements(set, p, input, userOf);
    // Flux objects a build declares are followed only if the parent's ServiceAccount may apply them (run.ts).
    const parentUser = p.parent ? userOf.get(p.parent) : undefined;
    if (parentUser) {
      set.add(
        {
          ...(FLUX_RESOURCES.Kustomization as { group: string; resource: string }),
          verb: "patch",
          namespace: p.ks.namespace,
          name: p.ks.name,
          as: parentUser,
        },
        `Kustomization ${p.parent} declares Kustomization ${p.ks.namespace}/${p.ks.name}`,
      );
    }
  }

  for (const h of input.plan.helmReleases) {
    const hr = h.hr;
    if (h.refused || hr.spec.suspend) continue;
    const subject = `HelmRelease ${hr.namespace}/${hr.name}`;
    const as = impersonatedUser(input.tenancy, hr.namespace, hr.spec.serviceAccountName);
    const who = as ? { as } : {};
    if (as) {
      set.add(
        {
          verb: "impersonate",
          group: "",
          resource: "serviceaccounts",
          namespace: hr.namespace,
          name: as.split(":").at(-1),
        },
        `${subject} acts as ${as}`,
      );
    }
    const parentUser = h.parent ? userOf.get(h.parent) : undefined;
    if (parentUser) {
      set.add(
        {
          ...(FLUX_RESOURCES.HelmRelease as { group: string; resource: string }),
          verb: "patch",
          namespace: hr.namespace,
          name: hr.name,
          as: parentUser,
        },
        `Kustomization ${h.parent} declares ${subject}`,
      );
    }
    for (const [i, ref] of (hr.spec.valuesFrom ?? []).entries()) {
      set.add(
        {
          verb: "get",
          group: "",
          resource: ref.kind === "Secret" ? "secrets" : "configmaps",
          namespace: hr.namespace,
          name: ref.name,
          ...who,
        },
        `${subject} reads values from ${ref.kind} ${hr.namespace}/${ref.name} (spec.valuesFrom[${i}])`,
      );
    }
    for (const verb of HELM_STORAGE_VERBS) {
      set.add(
        { verb, group: "", resource: "secrets", namespace: hr.releaseNamespace, ...who },
        `${subject} stores Helm release ${hr.releaseName} as Secrets in ${hr.releaseNamespace}`,
      );
    }
    notes.push(
      `${subject}: the objects its chart renders are known only when helm renders it; the API server checks them at install`,
    );
  }

  for (const source of input.sources) {
    if (source.kind === "GitRepository" && input.selfSourceNames.includes(source.name)) continue;
    const spec = source.spec as Record<string, { name?: string } | undefined>;
    for (const field of ["secretRef", "certSecretRef", "proxySecretRef"]) {
      const name = spec[field]?.name;
      if (!name) continue;
      set.add(
        { verb: "get", group: "", resource: "secrets", namespace: source.namespace, name },
        `${source.kind} ${source.namespace}/${source.name} reads credentials from Secret ${source.namespace}/${name} (spec.${field})`,
      );
    }
  }
  return { requirements: set.list(), notes };
}
