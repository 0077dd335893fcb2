// Planning a run: read the cluster path, find its Flux Kustomizations, build each with kustomize, and follow
// the Kustomizations those builds contain (the usual infrastructure/apps tree) until the tree is complete.
// Pure with respect to the cluster: nothing here talks to Kubernetes.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { buildKustomization, runKustomize, type WorkTree } from "../build/kustomize.js";
import { ManifestError } from "../flux/errors.js";
import {
  type FluxKustomization,
  isKustomization,
  kustomizationKey,
  parseKustomization,
} from "../flux/kustomization.js";
import {
  defaultManifestLimits,
  isYamlFile,
  type ManifestLimits,
  parseManifests,
  readManifestFile,
  type SourcedObject,
} from "../flux/manifests.js";
import { listFiles, repoRelative, resolveInRepo } from "../source/repo-path.js";

export interface PlannedKustomization {
  ks: FluxKustomization;
  /** Rendered objects to apply (Flux objects removed), before post-build substitution. */
  objects: KubernetesObject[];
  /** Why the build failed, when it did. */
  buildError?: string;
  /** The Kustomization whose build contained this one, if any. */
  parent?: string;
}

export interface TreePlan {
  clusterPath: string;
  kustomizations: PlannedKustomization[];
  /** Things worth telling the user that are not errors: ignored objects, the bootstrap Kustomization. */
  notes: string[];
}

export interface PlanOptions {
  clusterPath: string;
  /** GitRepository names that stand for the repository being reconciled (Flux bootstrap names it flux-system). */
  selfSourceNames: string[];
  limits: ManifestLimits;
}

export function defaultPlanOptions(clusterPath: string): PlanOptions {
  return { clusterPath, selfSourceNames: ["flux-system"], limits: defaultManifestLimits() };
}

const fluxGroup = /\.toolkit\.fluxcd\.io\//;

function isFluxObject(obj: KubernetesObject): boolean {
  return fluxGroup.test(obj.apiVersion ?? "");
}

/** The objects directly in the cluster path: a kustomize build if it has a kustomization.yaml, else every YAML file. */
async function readClusterPath(work: WorkTree, opts: PlanOptions): Promise<SourcedObject[]> {
  const dir = resolveInRepo(work.dir, opts.clusterPath, { field: "cluster path" });
  if (["kustomization.yaml", "kustomization.yml", "Kustomization"].some((f) => existsSync(join(dir, f)))) {
    let output: string;
    try {
      output = await runKustomize(dir);
    } catch (err) {
      throw new ManifestError(
        { file: opts.clusterPath },
        `kustomize build failed: ${(err as Error).message}`,
      );
    }
    return parseManifests(output, opts.clusterPath, opts.limits);
  }
  return listFiles(dir)
    .filter((f) => isYamlFile(f))
    .flatMap((f) => readManifestFile(f, repoRelative(work.dir, f), opts.limits));
}

export async function planTree(work: WorkTree, opts: PlanOptions): Promise<TreePlan> {
  const notes: string[] = [];
  const rootObjects = await readClusterPath(work, opts);
  const clusterDir = resolveInRepo(work.dir, opts.clusterPath);
  const declaredSources = new Map<string, string>();
  const planned = new Map<string, PlannedKustomization>();
  const queue: { ks: FluxKustomization; parent?: string }[] = [];

  const enqueue = (sourced: SourcedObject[], parent?: string) => {
    for (const { object, file } of sourced) {
      if (object.kind === "GitRepository" && isFluxObject(object)) {
        declaredSources.set(`${object.metadata?.namespace ?? "flux-system"}/${object.metadata?.name}`, file);
      }
    }
    for (const { object, file } of sourced) {
      if (!isKustomization(object)) {
        if (!parent && !isFluxObject(object)) {
          notes.push(
            `${file}: ${object.kind}/${object.metadata?.name} is not a Flux object and is not applied; put workloads under a Kustomization's path`,
          );
        }
        continue;
      }
      const ks = parseKustomization(object, file);
      const key = kustomizationKey(ks);
      const target = ks.spec.path
        ? resolveInRepo(work.dir, ks.spec.path, { file, object: `Kustomization/${key}`, field: "spec.path" })
        : work.dir;
      if (target === clusterDir) {
        notes.push(
          `Kustomization ${key} syncs the cluster path itself (Flux bootstrap); it is the root of this run`,
        );
        continue;
      }
      if (planned.has(key) || queue.some((q) => kustomizationKey(q.ks) === key)) {
        throw new ManifestError({ file, object: `Kustomization/${key}` }, "is defined more than once");
      }
      checkSource(ks, declaredSources, opts);
      queue.push({ ks, parent });
    }
  };
  enqueue(rootObjects);

  while (queue.length > 0) {
    const { ks, parent } = queue.shift() as { ks: FluxKustomization; parent?: string };
    const key = kustomizationKey(ks);
    try {
      const built = await buildKustomization(work, ks, opts.limits);
      const source = `${ks.spec.path ?? "./"} (built by Kustomization ${key})`;
      planned.set(key, { ks, objects: built.filter((o) => !isFluxObject(o)), parent });
      enqueue(
        built.filter(isFluxObject).map((object) => ({ object, file: source })),
        key,
      );
      for (const o of built.filter(
        (o) => isFluxObject(o) && !isKustomization(o) && o.kind !== "GitRepository",
      )) {
        notes.push(`Kustomization ${key}: ${o.kind}/${o.metadata?.name} is not reconciled yet by gitops-bot`);
      }
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err;
      planned.set(key, { ks, objects: [], buildError: err.message, parent });
    }
  }
  return { clusterPath: opts.clusterPath, kustomizations: [...planned.values()], notes };
}

function checkSource(ks: FluxKustomization, declared: Map<string, string>, opts: PlanOptions): void {
  const ref = ks.spec.sourceRef;
  const subject = `Kustomization/${kustomizationKey(ks)}`;
  if (ref.kind !== "GitRepository") {
    throw new ManifestError(
      { file: ks.file, object: subject, field: "spec.sourceRef.kind" },
      `${ref.kind} sources are not supported yet; use the GitRepository that stands for this repository`,
    );
  }
  const key = `${ref.namespace ?? ks.namespace}/${ref.name}`;
  if (declared.has(key) && !opts.selfSourceNames.includes(ref.name)) {
    throw new ManifestError(
      { file: ks.file, object: subject, field: "spec.sourceRef" },
      `GitRepository ${key} points at another repository, which is not supported yet; only this repository (${opts.selfSourceNames.join(", ")}) can be a source`,
    );
  }
}
