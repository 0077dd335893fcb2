// Flux's API groups, their kinds and versions (Flux 2.7), so that an object meant for Flux is never mistaken for
// a plain one: a typo in the group (`kustomize.toolkit.fluxcd.oi`), an unknown kind in a Flux group
// (`HelmRelase`) or a version Flux never had is an error with a did-you-mean, not an object silently skipped or
// sent to the cluster. Kustomize's own config files (`kustomize.config.k8s.io`) are told apart here too.
import type { KubernetesObject } from "@kubernetes/client-node";
import { closestName } from "./did-you-mean.js";
import { ManifestError } from "./errors.js";
import { quoted, subjectOf } from "./names.js";
import { alternatives } from "./spec-problem.js";

/** Group → kind → versions, newest first (the first is the one to suggest). */
export const fluxApiGroups: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  "kustomize.toolkit.fluxcd.io": { Kustomization: ["v1", "v1beta2", "v1beta1"] },
  "helm.toolkit.fluxcd.io": { HelmRelease: ["v2", "v2beta2", "v2beta1"] },
  "source.toolkit.fluxcd.io": {
    GitRepository: ["v1", "v1beta2", "v1beta1"],
    OCIRepository: ["v1", "v1beta2"],
    HelmRepository: ["v1", "v1beta2", "v1beta1"],
    HelmChart: ["v1", "v1beta2", "v1beta1"],
    Bucket: ["v1", "v1beta2", "v1beta1"],
    ExternalArtifact: ["v1"],
  },
  "source.extensions.fluxcd.io": { ArtifactGenerator: ["v1beta1"] },
  "notification.toolkit.fluxcd.io": {
    Provider: ["v1beta3", "v1beta2", "v1beta1"],
    Alert: ["v1beta3", "v1beta2", "v1beta1"],
    Receiver: ["v1", "v1beta2", "v1beta1"],
  },
  "image.toolkit.fluxcd.io": {
    ImageRepository: ["v1", "v1beta2", "v1beta1"],
    ImagePolicy: ["v1", "v1beta2", "v1beta1"],
    ImageUpdateAutomation: ["v1", "v1beta2", "v1beta1"],
  },
};

const groups = Object.keys(fluxApiGroups);

function groupVersion(obj: KubernetesObject): { group: string; version: string } {
  const apiVersion = String(obj.apiVersion ?? "");
  const slash = apiVersion.indexOf("/");
  return slash < 0
    ? { group: "", version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** Whether the object's API group is one of Flux's (whatever its kind and version). */
export function isFluxApiGroup(obj: KubernetesObject): boolean {
  return Object.hasOwn(fluxApiGroups, groupVersion(obj).group);
}

/** A kustomize config file (`kustomization.yaml`: Kustomization or Component of kustomize.config.k8s.io). */
export function isKustomizeConfig(obj: KubernetesObject): boolean {
  return (
    groupVersion(obj).group === "kustomize.config.k8s.io" &&
    (obj.kind === "Kustomization" || obj.kind === "Component")
  );
}

/** The group a Flux kind belongs to, when the kind is one of Flux's. */
function groupOfKind(kind: string): string | undefined {
  return groups.find((group) => Object.hasOwn(fluxApiGroups[group] ?? {}, kind));
}

/**
 * Why an object that looks like a Flux object is not one Flux knows, or undefined (a Flux object of a known
 * group, kind and version, or an object that does not look like Flux at all). Looks like Flux: a group ending
 * in `.fluxcd.io`, or a group a typo away from one of Flux's.
 */
export function fluxLookAlikeProblem(obj: KubernetesObject): { field: string; reason: string } | undefined {
  const { group, version } = groupVersion(obj);
  const kind = String(obj.kind ?? "");
  const kinds = fluxApiGroups[group];
  if (kinds) {
    const versions = kinds[kind];
    if (!versions) {
      const close = closestName(kind, Object.keys(kinds));
      return {
        field: "kind",
        reason: `${quoted(kind)} is not a kind of ${group} (${
          close ? `did you mean ${close}?` : `its kinds: ${alternatives(Object.keys(kinds))}`
        })`,
      };
    }
    if (!versions.includes(version)) {
      return {
        field: "apiVersion",
        reason: `${quoted(String(obj.apiVersion))} is not a version of ${kind} (did you mean ${group}/${versions[0]}?)`,
      };
    }
    return undefined;
  }
  const typoOf = closestName(group, groups);
  if (!typoOf && !group.endsWith(".fluxcd.io")) return undefined;
  const meant = groupOfKind(kind) ?? typoOf;
  const meantVersions = meant ? fluxApiGroups[meant]?.[kind] : undefined;
  const meantVersion = meantVersions?.includes(version) ? version : meantVersions?.[0];
  const hint =
    meant && meantVersion
      ? ` (did you mean ${meant}/${meantVersion}?)`
      : meant
        ? ` (did you mean ${meant}?)`
        : "";
  return { field: "apiVersion", reason: `${quoted(String(obj.apiVersion))} is not a Flux API group${hint}` };
}

/** Throws a ManifestError naming file, object and field when the object only looks like a Flux object. */
export function checkFluxLookAlike(obj: KubernetesObject, file: string): void {
  const problem = fluxLookAlikeProblem(obj);
  if (!problem) return;
  const name = obj.metadata?.name;
  const namespace = obj.metadata?.namespace ?? "flux-system";
  throw new ManifestError(
    {
      file,
      object: subjectOf(String(obj.kind), String(namespace), name === undefined ? undefined : String(name)),
      field: problem.field,
    },
    problem.reason,
  );
}
