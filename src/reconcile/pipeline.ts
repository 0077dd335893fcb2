// PROTOTYPE (issue 11, item 8): the cold path builds the root Kustomizations one after another (plan.ts awaits
// each kustomize process before starting the next), so on a tree of 100 Kustomizations about half of a cold run is
// spent before the first object is applied. This runs those builds concurrently ahead of planTree, through the
// same buildKustomization (same limits, kustomize options and tenancy refusals), so that planTree finds each one in
// the build cache (build-cache.ts: keyed by the tree's content and the build's inputs). Nothing is applied here and
// nothing planTree decides changes: it only moves build time earlier and in parallel.
//
// Hook (src/reconcile/run.ts, reconcileTreeOnce, right before planTree): `await warmRootBuilds(work, options);`.
// The full proposal goes further: start applying each Kustomization as soon as its own build is done (see
// docs/benchmarks.md).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { buildCacheEnabled } from "../build/build-cache.js";
import { buildKustomization, type WorkTree } from "../build/kustomize.js";
import { type FluxKustomization, parseKustomization } from "../flux/kustomization.js";
import { mapLimit } from "./concurrency.js";
import type { PlanOptions } from "./plan.js";
import { kustomizationViolations } from "./tenancy.js";

/** kustomize processes at once: each is mostly CPU, so about the machine's cores, at least 2. */
export const DEFAULT_BUILD_CONCURRENCY = 4;

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    const st = statSync(full);
    if (st.isDirectory()) out.push(...yamlFiles(full));
    else if (/\.ya?ml$/.test(name)) out.push(full);
  }
  return out;
}

/** The cluster path's own Kustomizations that build from this repository (the ones plan.ts builds first). */
function rootKustomizations(work: WorkTree, opts: PlanOptions): FluxKustomization[] {
  const out: FluxKustomization[] = [];
  for (const file of yamlFiles(join(work.dir, opts.clusterPath))) {
    for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
      const obj = doc.toJS() as KubernetesObject | null;
      if (obj?.kind !== "Kustomization" || !/^kustomize\.toolkit\.fluxcd\.io\//.test(obj.apiVersion ?? ""))
        continue;
      try {
        const ks = parseKustomization(obj, relative(work.dir, file));
        if (!opts.selfSourceNames.includes(ks.spec.sourceRef.name)) continue;
        if (ks.spec.sourceRef.kind !== "GitRepository") continue;
        out.push(ks);
      } catch {
        // planTree reports it with its file and field.
      }
    }
  }
  return out;
}

/**
 * Builds the root Kustomizations `concurrency` at a time into the build cache. Failures are ignored: planTree
 * builds that Kustomization again and reports the error where it always did. A no-op without the build cache.
 */
export async function warmRootBuilds(
  work: WorkTree,
  opts: PlanOptions,
  concurrency = DEFAULT_BUILD_CONCURRENCY,
): Promise<number> {
  if (!buildCacheEnabled()) return 0;
  const roots = rootKustomizations(work, opts).filter(
    (ks) =>
      !ks.spec.suspend &&
      kustomizationViolations(opts.tenancy, ks, (r) => opts.selfSourceNames.includes(r.name)).length === 0,
  );
  let built = 0;
  await mapLimit(roots, concurrency, async (ks) => {
    try {
      await buildKustomization(work, ks, opts.limits, opts.kustomize);
      built++;
    } catch {
      // reported by planTree
    }
  });
  return built;
}
