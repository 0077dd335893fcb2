// `gitops-bot build`'s engine: the plan of a tree without a cluster. Apart from run.ts (which re-exports it) so
// that rendering never loads what only applying needs (the Kubernetes client, Helm, the apply engine).
import { prepareWorkTree } from "../build/kustomize.js";
import type { ReconcileOptions } from "./options.js";
import { type PlanOptions, planTree, type TreePlan } from "./plan.js";

/** Renders the tree without a cluster (`gitops-bot build`): the plan, with substitute values (not substituteFrom). */
export async function buildTree(
  opts: Pick<ReconcileOptions, "repoDir" | keyof PlanOptions>,
): Promise<TreePlan> {
  const work = prepareWorkTree(opts.repoDir);
  try {
    return await planTree(work, opts);
  } finally {
    work.cleanup();
  }
}
