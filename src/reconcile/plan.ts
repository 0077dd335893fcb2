// Planning a run: read the cluster path, find its Flux Kustomizations, build each with kustomize, and follow
// the Kustomizations those builds contain (the usual infrastructure/apps tree) until the tree is complete.
// Pure with respect to the cluster: nothing here talks to Kubernetes.
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import {
  buildKustomization,
  type KustomizeOptions,
  prepareWorkTree,
  runKustomize,
  type WorkTree,
} from "../build/kustomize.js";
import { checkFluxLookAlike, isFluxApiGroup, isKustomizeConfig } from "../flux/api-groups.js";
import { ManifestError } from "../flux/errors.js";
import {
  type FluxHelmRelease,
  helmReleaseKey,
  isHelmRelease,
  parseHelmRelease,
} from "../flux/helm-release.js";
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
import { isNotificationObject } from "../flux/notification.js";
import { type FluxSource, isSource, parseSource, sourceKey } from "../flux/sources.js";
import { defaultCacheDir } from "../source/cache.js";
import { noSecrets } from "../source/credentials.js";
import { listFiles, repoRelative, resolveInRepo } from "../source/repo-path.js";
import { SourceError, SourceResolver } from "../source/resolver.js";
import type { OutboundPolicy } from "../util/outbound/index.js";
import { fluxInstallNote, rootKustomization, splitRootObjects } from "./cluster-root.js";
import {
  helmReleaseViolations,
  kustomizationViolations,
  sourceViolations,
  type TenancyPolicy,
  type Violation,
} from "./tenancy.js";

export interface PlannedKustomization {
  ks: FluxKustomization;
  /** Rendered objects to apply (Flux objects removed), before post-build substitution. */
  objects: KubernetesObject[];
  /** The Flux objects its build declared (reconciled by the bot, not applied); `gitops-bot build` prints them. */
  fluxObjects?: KubernetesObject[];
  /** Why the build failed, when it did. */
  buildError?: string;
  /** Why the tenancy policy refuses it (then also its buildError): reported before its dependencies. */
  refused?: string;
  /** The Kustomization whose build contained this one, if any. */
  parent?: string;
  /** For a source other than this repository: `Kind/namespace/name@revision`. */
  source?: string;
}

export interface PlannedHelmRelease {
  hr: FluxHelmRelease;
  /** The Kustomization whose build contained this HelmRelease (it is reconciled after it), if any. */
  parent?: string;
  /** Why the tenancy policy refuses it (it is not reconciled), when it does. */
  refused?: string;
}

export interface TreePlan {
  clusterPath: string;
  kustomizations: PlannedKustomization[];
  helmReleases: PlannedHelmRelease[];
  /** Things worth telling the user that are not errors: ignored objects, the bootstrap Kustomization. */
  notes: string[];
  /** Flux's Provider and Alert objects (src/notify reads them), from the cluster path and from builds. */
  notifications?: SourcedObject[];
  /** Labels and annotations of each Kustomization and HelmRelease, by `Kind/namespace/name` (Alerts' matchLabels). */
  objectMetadata?: Map<string, ObjectMetadata>;
  /**
   * The Flux objects directly in the cluster path: what Flux's flux-system Kustomization applies. `build` lists
   * them under the root Kustomization even when the path holds no plain object (no root is planned then).
   */
  rootFluxObjects?: KubernetesObject[];
  /** Every source the tree declares (the cluster path and every build): the schedule polls each on its own. */
  sources?: FluxSource[];
}

export interface ObjectMetadata {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface PlanOptions {
  clusterPath: string;
  /** GitRepository names that stand for the repository being reconciled (Flux bootstrap names it flux-system). */
  selfSourceNames: string[];
  limits: ManifestLimits;
  /** Where fetched sources (other Git repositories, OCI artifacts, charts) are cached; default GITOPS_BOT_CACHE_DIR or ~/.cache/gitops-bot/sources. */
  cacheDir?: string;
  /** Bounds of every kustomize build: timeout, output cap, remote resources (operator `security`). */
  kustomize?: Partial<KustomizeOptions>;
  /** What the repository may do on the cluster (namespaces, cross-namespace references); absent: anything. */
  tenancy?: TenancyPolicy;
  /**
   * Whether the Kustomization whose build declared these Flux objects may declare them (run.ts asks the API
   * server whether its ServiceAccount could apply them, as Flux would): why not, or undefined. Never throws.
   */
  admitFluxObjects?: (parent: FluxKustomization, objects: KubernetesObject[]) => Promise<string | undefined>;
  /** Called with the finished plan (the bot compiles the run's Alerts here). */
  onPlanned?: (plan: TreePlan) => void;
  /**
   * Called with each Kustomization once it is planned for good (built, or failed to build), while the others
   * may still be building: run.ts starts applying the ones that depend on nothing. Never throws.
   */
  onBuilt?: (planned: PlannedKustomization) => void;
  /**
   * Post-build substitution of the Flux objects a Kustomization's build declares, before they are planned (the
   * run reads substituteFrom from the cluster; `build` substitutes inline values only). Absent: none.
   */
  substituteFluxObjects?: (
    ks: FluxKustomization,
    objects: KubernetesObject[],
  ) => Promise<{ objects: KubernetesObject[]; secretValues: string[] }>;
  /** Which hosts repository content may reach (operator `security.outbound`). */
  outbound?: OutboundPolicy;
  /** Kustomization builds run at once while planning; default DEFAULT_BUILD_CONCURRENCY. */
  buildConcurrency?: number;
  /** Apply Flux's own install (gotk-components.yaml) found in the cluster path; default: leave it out with a note. */
  applyFluxInstall?: boolean;
}

/** A ManifestError naming every rule an object breaks. */
function refusal(file: string, object: string, violations: Violation[]): ManifestError {
  return new ManifestError({ file, object }, violations.map((v) => `${v.field}: ${v.reason}`).join("; "));
}

/** Builds at once: kustomize processes, each bounded in time and memory (util/child-process.ts). */
export const DEFAULT_BUILD_CONCURRENCY = 4;

export function defaultPlanOptions(clusterPath: string): PlanOptions {
  return { clusterPath, selfSourceNames: ["flux-system"], limits: defaultManifestLimits() };
}

const handledFluxKinds = new Set([
  "Kustomization",
  "GitRepository",
  "OCIRepository",
  "HelmRepository",
  "HelmRelease",
  "ArtifactGenerator",
]);

/** An object of one of Flux's API groups: never applied to the cluster, read by the planner instead. */
function isFluxObject(obj: KubernetesObject): boolean {
  return isFluxApiGroup(obj);
}

/** kustomize's config file names (a `kustomization.yaml` often has no apiVersion or kind at all). */
const kustomizeConfigFiles = new Set(["kustomization.yaml", "kustomization.yml", "Kustomization"]);

/** The objects directly in the cluster path: a kustomize build if it has a kustomization.yaml, else every YAML file. */
async function readClusterPath(work: WorkTree, opts: PlanOptions): Promise<SourcedObject[]> {
  const dir = resolveInRepo(work.dir, opts.clusterPath, { field: "cluster path" });
  if ([...kustomizeConfigFiles].some((f) => existsSync(join(dir, f)))) {
    let output: string;
    try {
      output = await runKustomize(dir, opts.kustomize);
    } catch (err) {
      // A refused reference already names its file and field.
      if (err instanceof ManifestError) throw err;
      throw new ManifestError(
        { file: opts.clusterPath },
        `kustomize build failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return parseManifests(output, opts.clusterPath, opts.limits);
  }
  // Without a kustomization.yaml at the top, subdirectories may hold kustomize's own config files (bootstrap's
  // flux-system/kustomization.yaml): they describe files, they are not objects.
  return listFiles(dir)
    .filter((f) => isYamlFile(f) && !kustomizeConfigFiles.has(basename(f)))
    .flatMap((f) => readManifestFile(f, repoRelative(work.dir, f), opts.limits))
    .filter(({ object }) => !isKustomizeConfig(object));
}

export async function planTree(
  work: WorkTree,
  opts: PlanOptions,
  resolver: SourceResolver = new SourceResolver({
    selfSourceNames: opts.selfSourceNames,
    selfDir: work.dir,
    cacheDir: opts.cacheDir ?? defaultCacheDir(),
    secrets: noSecrets,
  }),
): Promise<TreePlan> {
  const notes: string[] = [];
  const notifications: SourcedObject[] = [];
  const objectMetadata = new Map<string, ObjectMetadata>();
  const remember = (subject: string, object: KubernetesObject) => {
    const { labels, annotations } = object.metadata ?? {};
    if (labels || annotations) {
      objectMetadata.set(subject, {
        ...(labels ? { labels: { ...labels } } : {}),
        ...(annotations ? { annotations: { ...annotations } } : {}),
      });
    }
  };
  const rootObjects = await readClusterPath(work, opts);
  const clusterDir = resolveInRepo(work.dir, opts.clusterPath);
  const planned = new Map<string, PlannedKustomization>();
  const helmReleases = new Map<string, PlannedHelmRelease>();
  type QueueItem = { ks: FluxKustomization; parent?: string; retried?: boolean };
  const queue: QueueItem[] = [];
  const deferred: QueueItem[] = [];
  const sourceTrees = new Map<
    string,
    Promise<{ tree: WorkTree; revision: string; originRevision?: string }>
  >();
  const rootPlain: SourcedObject[] = [];
  let bootstrap: FluxKustomization | undefined;

  /** Where a Kustomization was first defined, when it was. */
  /** Plan order (the order Kustomizations left the queue) and the ones being built now. */
  const order = new Map<string, number>();
  const inFlight = new Map<string, string>();
  const definedIn = (key: string): string | undefined =>
    planned.get(key)?.ks.file ??
    inFlight.get(key) ??
    [...queue, ...deferred].find((q) => kustomizationKey(q.ks) === key)?.ks.file;

  const enqueue = (sourced: SourcedObject[], parent?: string, substitutedSecrets: string[] = []) => {
    // A typo in a Flux object's group, kind or version would otherwise make it a plain object (skipped at the
    // root, sent to the cluster from a build) and surface later as a missing dependency.
    for (const { object, file } of sourced) checkFluxLookAlike(object, file);
    for (const { object, file } of sourced) {
      if (isSource(object)) {
        try {
          const source = parseSource(object, file);
          const violations = sourceViolations(opts.tenancy, source);
          if (violations.length > 0) throw refusal(file, sourceKey(source), violations);
          resolver.declare(source);
        } catch (err) {
          if (err instanceof SourceError) throw new ManifestError({ file }, err.message);
          throw err;
        }
      }
    }
    for (const { object, file } of sourced) {
      if (isNotificationObject(object)) {
        notifications.push({ object, file });
        continue;
      }
      if (isHelmRelease(object)) {
        const parsed = parseHelmRelease(object, file);
        const hr = substitutedSecrets.length > 0 ? { ...parsed, substitutedSecrets } : parsed;
        const key = helmReleaseKey(hr);
        const first = helmReleases.get(key);
        if (first) throw duplicate(file, key, first.hr.file);
        const violations = helmReleaseViolations(opts.tenancy, hr);
        remember(key, object);
        helmReleases.set(key, {
          hr,
          parent,
          ...(violations.length > 0 ? { refused: refusal(file, key, violations).message } : {}),
        });
        continue;
      }
      if (!isKustomization(object)) {
        // Plain objects directly in the cluster path are the root Kustomization's (cluster-root.ts).
        if (!parent && !isFluxObject(object)) rootPlain.push({ object, file });
        continue;
      }
      const ks = parseKustomization(object, file);
      const key = kustomizationKey(ks);
      checkSource(ks);
      remember(`Kustomization/${key}`, object);
      if (resolver.isSelf(ks.spec.sourceRef, ks.namespace)) {
        const target = ks.spec.path
          ? resolveInRepo(work.dir, ks.spec.path, {
              file,
              object: `Kustomization/${key}`,
              field: "spec.path",
            })
          : work.dir;
        if (target === clusterDir) {
          notes.push(
            `Kustomization ${key} syncs the cluster path itself (Flux bootstrap); it is the root of this run`,
          );
          bootstrap = ks;
          continue;
        }
      }
      const first = definedIn(key);
      if (first !== undefined) {
        // A Kustomization whose build contains itself: usually spec.path left out, so the whole repository.
        const own = parent === key ? ownBuildHint(ks) : "";
        throw duplicate(file, `Kustomization/${key}`, first, own);
      }
      queue.push({ ks, parent });
    }
  };

  /** The work tree a Kustomization builds in: this repository's, or a private copy of its source's files. */
  const treeFor = async (ks: FluxKustomization): Promise<{ tree: WorkTree; source?: string }> => {
    const ref = ks.spec.sourceRef;
    if (resolver.isSelf(ref, ks.namespace)) return { tree: work };
    const source = resolver.find(ref, ks.namespace);
    if (!source || source.kind === "HelmRepository") {
      throw new ManifestError(
        { file: ks.file, object: `Kustomization/${kustomizationKey(ks)}`, field: "spec.sourceRef" },
        `${ref.kind} ${ref.namespace ?? ks.namespace}/${ref.name} is not defined in the repository`,
      );
    }
    const key = sourceKey(source);
    // One promise per source, awaited here at once: a fetch that fails is this Kustomization's build error,
    // never a rejection nobody waits for (that takes the whole process down).
    let prepared = sourceTrees.get(key);
    if (!prepared) {
      prepared = resolver.artifact(source).then((a) => ({
        tree: prepareWorkTree(a.dir),
        revision: a.revision,
        ...(a.originRevision ? { originRevision: a.originRevision } : {}),
      }));
      sourceTrees.set(key, prepared);
    }
    const { tree, revision, originRevision } = await prepared;
    // As Flux reports an ExternalArtifact's origin (status.lastAppliedOriginRevision) beside its revision.
    return { tree, source: `${key}@${revision}${originRevision ? ` (origin ${originRevision})` : ""}` };
  };

  /** Tells the caller a Kustomization is planned for good. */
  const reportPlanned = (key: string) => {
    const p = planned.get(key);
    if (p) opts.onBuilt?.(p);
  };
  enqueue(rootObjects);
  const root = splitRootObjects(rootPlain, opts.applyFluxInstall === true);
  const installNote = fluxInstallNote(root.fluxInstall);
  if (installNote) notes.push(installNote);
  if (root.objects.length > 0) {
    const ks = rootKustomization(bootstrap, opts.clusterPath, opts.selfSourceNames[0]);
    const key = kustomizationKey(ks);
    const first = definedIn(key);
    if (first !== undefined) throw duplicate(first, `Kustomization/${key}`, opts.clusterPath, rootHint);
    const fluxObjects = rootObjects.filter((o) => isFluxObject(o.object)).map((o) => o.object);
    // The root is held to the same grant as any Kustomization: a tenant may not claim flux-system's root.
    const violations = kustomizationViolations(opts.tenancy, ks, (r) => resolver.isSelf(r, ks.namespace));
    const refused =
      violations.length > 0
        ? `${refusal(ks.file, `Kustomization/${key}`, violations).message} (the cluster path's own objects are applied by this root Kustomization; a tenant repository puts them under a Kustomization of its own)`
        : undefined;
    planned.set(key, {
      ks,
      objects: refused ? [] : root.objects,
      fluxObjects,
      ...(refused ? { buildError: refused, refused } : {}),
    });
    remember(`Kustomization/${key}`, { metadata: { name: ks.name } } as KubernetesObject);
    reportPlanned(key);
  }
  // Remote kustomize references (when the operator allows them) are held to the run's outbound policy.
  const kustomizeOptions =
    opts.outbound && !opts.kustomize?.outbound
      ? { ...opts.kustomize, outbound: opts.outbound }
      : opts.kustomize;
  /** Builds one Kustomization and queues the Flux objects its build declares. */
  const planOne = async (next: QueueItem): Promise<void> => {
    await buildOne(next);
    reportPlanned(kustomizationKey(next.ks));
  };
  const buildOne = async (next: QueueItem): Promise<void> => {
    const { ks, parent } = next;
    const key = kustomizationKey(ks);
    // Checked once its source is known (or known to be this repository), before anything is fetched or
    // built: a source in another namespace may hold another tenant's credentials.
    const violations = kustomizationViolations(opts.tenancy, ks, (r) => resolver.isSelf(r, ks.namespace));
    if (violations.length > 0) {
      const refused = refusal(ks.file, `Kustomization/${key}`, violations).message;
      planned.set(key, { ks, objects: [], buildError: refused, refused, parent });
      return;
    }
    let source: string | undefined;
    try {
      const resolved = await treeFor(ks);
      source = resolved.source;
      const built = await buildKustomization(resolved.tree, ks, opts.limits, kustomizeOptions);
      const origin = `${ks.spec.path ?? "./"} (built by Kustomization ${key})`;
      // Before the split below: a look-alike is not in a Flux group, so it would be applied as a plain object.
      for (const object of built) checkFluxLookAlike(object, origin);
      // Flux substitutes the whole build, the Flux objects in it too (a HelmRelease's values, a child's path).
      let fluxObjects = built.filter(isFluxObject);
      let substitutedSecrets: string[] = [];
      if (opts.substituteFluxObjects && ks.spec.postBuild && fluxObjects.length > 0) {
        try {
          ({ objects: fluxObjects, secretValues: substitutedSecrets } = await opts.substituteFluxObjects(
            ks,
            fluxObjects,
          ));
        } catch (err) {
          throw new ManifestError(
            { file: ks.file, object: `Kustomization/${key}`, field: "spec.postBuild" },
            `post-build substitution of the Flux objects it declares failed: ${(err as Error).message}`,
            { cause: err },
          );
        }
      }
      const refused =
        fluxObjects.length > 0 && opts.admitFluxObjects
          ? await opts.admitFluxObjects(ks, fluxObjects)
          : undefined;
      if (refused) throw new ManifestError({ file: ks.file, object: `Kustomization/${key}` }, refused);
      planned.set(key, { ks, objects: built.filter((o) => !isFluxObject(o)), fluxObjects, parent, source });
      enqueue(
        fluxObjects.map((object) => ({ object, file: origin })),
        key,
        substitutedSecrets,
      );
      const unhandled = (o: KubernetesObject) =>
        isFluxObject(o) && !handledFluxKinds.has(o.kind ?? "") && !isNotificationObject(o);
      for (const o of built.filter(unhandled)) {
        notes.push(
          `Kustomization ${key}: ${o.kind}/${o.metadata?.name ?? "<no name>"} is not reconciled yet by gitops-bot`,
        );
      }
    } catch (err) {
      if (!(err instanceof ManifestError) && !(err instanceof SourceError)) throw err;
      planned.set(key, { ks, objects: [], buildError: err.message, parent, source });
    }
  };

  // Builds run in parallel (kustomize is a process each; most of a cold run is spent waiting for them), up to
  // `buildConcurrency` at once; the plan's order is the order Kustomizations were taken from the queue, so it
  // does not depend on which build finished first.
  const limit = Math.max(1, opts.buildConcurrency ?? DEFAULT_BUILD_CONCURRENCY);
  const running = new Set<Promise<void>>();
  let fatal: { error: unknown } | undefined;
  try {
    for (;;) {
      while (!fatal && running.size < limit) {
        let next = queue.shift();
        if (!next) {
          // Kustomizations whose source was not declared yet get a second chance once the rest is built.
          if (running.size > 0) break;
          const retry = deferred.shift();
          next = retry && { ...retry, retried: true };
        }
        if (!next) break;
        const ref = next.ks.spec.sourceRef;
        if (
          !next.retried &&
          !opts.selfSourceNames.includes(ref.name) &&
          !resolver.find(ref, next.ks.namespace)
        ) {
          deferred.push({ ks: next.ks, parent: next.parent });
          continue;
        }
        const key = kustomizationKey(next.ks);
        order.set(key, order.size);
        inFlight.set(key, next.ks.file);
        const task: Promise<void> = planOne(next)
          .catch((error: unknown) => {
            fatal ??= { error };
          })
          .finally(() => {
            inFlight.delete(key);
            running.delete(task);
          });
        running.add(task);
      }
      if (running.size === 0) break;
      await Promise.race(running);
    }
    if (fatal) throw fatal.error;
  } finally {
    for (const prepared of sourceTrees.values()) prepared.then((p) => p.tree.cleanup()).catch(() => {});
  }
  const plan: TreePlan = {
    clusterPath: opts.clusterPath,
    kustomizations: [...planned.entries()]
      .sort(([a], [b]) => (order.get(a) ?? -1) - (order.get(b) ?? -1))
      .map(([, p]) => p),
    helmReleases: [...helmReleases.values()],
    notes,
    notifications,
    objectMetadata,
    rootFluxObjects: rootObjects.filter((o) => isFluxObject(o.object)).map((o) => o.object),
    sources: resolver.declared(),
  };
  opts.onPlanned?.(plan);
  return plan;
}

const rootHint =
  ": the cluster path's own objects are applied by the root Kustomization of that name (as Flux's bootstrap does); rename the other one";

/** A second definition of an object: names both files. */
function duplicate(file: string, object: string, firstFile: string, hint = ""): ManifestError {
  return new ManifestError({ file, object }, `is defined more than once (also in ${firstFile})${hint}`);
}

function ownBuildHint(ks: FluxKustomization): string {
  return ks.spec.path === undefined
    ? ": its own build contains it, because spec.path is not set and the whole repository is built; set spec.path to the directory of its manifests"
    : `: its own build (spec.path ${ks.spec.path}) contains it; point spec.path at the directory of its manifests only`;
}

function checkSource(ks: FluxKustomization): void {
  const ref = ks.spec.sourceRef;
  if (ref.kind === "Bucket") {
    throw new ManifestError(
      { file: ks.file, object: `Kustomization/${kustomizationKey(ks)}`, field: "spec.sourceRef.kind" },
      "Bucket sources are not supported; use a GitRepository or an OCIRepository",
    );
  }
}
