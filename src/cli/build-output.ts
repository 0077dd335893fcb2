// What `gitops-bot build` prints for a Kustomization, as `flux build kustomization` does: every object its
// build contains — the Flux objects it declares (HelmRepositories, HelmReleases, Kustomizations, sources)
// included — after the inline `postBuild.substitute` values are substituted as a reconcile would. Values of
// `substituteFrom` live in the cluster, which `build` does not read: with substituteFrom, nothing is
// substituted (a half-substituted output would be wrong in a way that looks right) and a note says so.
import type { KubernetesObject } from "@kubernetes/client-node";
import { SubstitutionError, substituteObject } from "../build/substitute.js";
import { kustomizationKey } from "../flux/kustomization.js";
import { rootForBuild } from "../reconcile/cluster-root.js";
import type { PlannedKustomization, TreePlan } from "../reconcile/plan.js";

/**
 * The Flux objects directly in the cluster path (Kustomizations, sources), when the plan says them: with no
 * plain object there, no root Kustomization is planned (nothing to apply or inventory), but `flux build
 * kustomization flux-system` still prints them, so `build` lists them under the root.
 */
export interface RootFluxObjects {
  rootFluxObjects?: KubernetesObject[];
}

export function buildOutput(plan: TreePlan & RootFluxObjects): TreePlan {
  const notes = [...plan.notes];
  const kustomizations = plan.kustomizations.map((p) => {
    if (p.buildError) return p;
    const all = [...p.objects, ...(p.fluxObjects ?? [])];
    return { ...p, objects: substituted(p, all, notes) };
  });
  const root = plan.rootFluxObjects?.length
    ? rootForBuild(plan.clusterPath, plan.rootFluxObjects)
    : undefined;
  if (root && !kustomizations.some((p) => kustomizationKey(p.ks) === kustomizationKey(root))) {
    kustomizations.unshift({ ks: root, objects: [...(plan.rootFluxObjects ?? [])] });
  }
  return { ...plan, kustomizations, notes };
}

function substituted(
  p: PlannedKustomization,
  objects: KubernetesObject[],
  notes: string[],
): KubernetesObject[] {
  const postBuild = p.ks.spec.postBuild;
  if (!postBuild?.substitute) return objects;
  if ((postBuild.substituteFrom ?? []).length > 0) {
    notes.push(
      `Kustomization ${kustomizationKey(p.ks)}: not substituted: its postBuild.substituteFrom values are in the cluster, which build does not read`,
    );
    return objects;
  }
  const vars = postBuild.substitute;
  return objects.map((o) => {
    try {
      return substituteObject(o, vars);
    } catch (err) {
      const why = err instanceof SubstitutionError ? err.message : (err as Error).message;
      throw new Error(
        `${p.ks.file}: Kustomization/${kustomizationKey(p.ks)}: post-build substitution failed: ${why}`,
      );
    }
  });
}
