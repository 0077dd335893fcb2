// The tree a check is about: the same plan `gitops-bot build` makes (kustomize builds, no cluster), plus the
// sources it declares, whose credentials the bot reads.
import { prepareWorkTree } from "../build/kustomize.js";
import type { FluxSource } from "../flux/sources.js";
import { defaultPlanOptions, type PlanOptions, planTree, type TreePlan } from "../reconcile/plan.js";
import { defaultCacheDir } from "../source/cache.js";
import { noSecrets } from "../source/credentials.js";
import { SourceResolver } from "../source/resolver.js";

export interface CheckedTree {
  plan: TreePlan;
  sources: FluxSource[];
  selfSourceNames: string[];
}

export async function loadTree(
  repoDir: string,
  clusterPath: string,
  options: Partial<PlanOptions> = {},
): Promise<CheckedTree> {
  const opts = { ...defaultPlanOptions(clusterPath), ...options, clusterPath };
  const work = prepareWorkTree(repoDir);
  try {
    const resolver = new SourceResolver({
      selfSourceNames: opts.selfSourceNames,
      selfDir: work.dir,
      cacheDir: opts.cacheDir ?? defaultCacheDir(),
      secrets: noSecrets,
    });
    const plan = await planTree(work, opts, resolver);
    return { plan, sources: resolver.declared(), selfSourceNames: opts.selfSourceNames };
  } finally {
    work.cleanup();
  }
}
