// Kustomizations as the run loop sees them: substitute, label, apply (or dry-run) as the Kustomization's
// identity, record the inventory, prune what left the build, wait for health; and prune the objects of
// Kustomizations of this scope that left Git.
import type { KubernetesObject } from "@kubernetes/client-node";
import { decryptObjects } from "../build/sops.js";
import { SubstitutionError, substituteObject } from "../build/substitute.js";
import type { ExprAssessor } from "../cluster/health-exprs.js";
import type { RawObjectApi } from "../cluster/kube-client.js";
import { applyAllStaged } from "../cluster/ssa/apply.js";
import { ChangeSet } from "../cluster/ssa/changeset.js";
import {
  deleteInventory,
  deletesOnRemoval,
  type Inventory,
  inventoryEntries,
  inventoryFingerprints,
  listInventories,
  OWNER_NAME_LABEL,
  OWNER_NAMESPACE_LABEL,
  writeInventory,
} from "../cluster/ssa/inventory.js";
import { secretValuesOf } from "../cluster/ssa/mask-secrets.js";
import { objectId, parseObjectId, subjectOf } from "../cluster/ssa/object-id.js";
import { deleteStaleObjects, staleEntries, waitForDeletion } from "../cluster/ssa/prune.js";
import { waitForHealthy } from "../cluster/ssa/wait.js";
import { parseDuration } from "../flux/duration.js";
import { kustomizationKey } from "../flux/kustomization.js";
import { clusterSecretReader } from "../source/credentials.js";
import { scrubCredentials, scrubSecrets } from "../util/secret-scrub.js";
import { clientFor, maskLiveValues } from "./acting-client.js";
import { mapLimit, type Semaphore, semaphore } from "./concurrency.js";
import type { ReconcileOptions } from "./options.js";
import type { PlannedKustomization } from "./plan.js";
import { postBuildVars } from "./post-build-vars.js";
import type { Reconciler, ReconcilerContext } from "./reconciler.js";
import { type RemoteRef, remoteClientFor } from "./remote-client.js";
import type { KustomizationResult } from "./result.js";
import { RunReads, runPlanOf } from "./run-reads.js";
import { yieldSlot } from "./slot.js";
import { suspendedMessage } from "./suspension.js";
import {
  describeViolations,
  impersonatedUser,
  namespaceRefusal,
  objectViolations,
  tenantSecretReader,
  type Violation,
} from "./tenancy.js";

/** Kustomizations waiting for health at once, per slot of the run loop. */
const WAITS_PER_SLOT = 4;

export function kustomizationReconciler({
  api,
  options,
  suspended,
}: ReconcilerContext): Reconciler<PlannedKustomization, KustomizationResult> {
  // Made at the first reconcile; the run's plan grows as its Kustomizations are built (run-reads.ts).
  let reads: RunReads | undefined;
  const runReads = () => {
    reads ??= new RunReads(api, runPlanOf(options));
    return reads;
  };
  // Health waits hand the run loop's slot on (slot.ts) and are bounded apart: a waiting Kustomization polls
  // only its objects not yet healthy, about one GET a second once its ConfigMaps and Services are Current (16 by default).
  const waits = semaphore(Math.max(1, options.concurrency) * WAITS_PER_SLOT);
  return {
    kind: "Kustomization",
    planned: (plan) => plan.kustomizations,
    key: (p) => kustomizationKey(p.ks),
    object: (p) => ({ namespace: p.ks.namespace, name: p.ks.name }),
    dependsOn: (p) => (p.ks.spec.dependsOn ?? []).map((d) => `${d.namespace ?? p.ks.namespace}/${d.name}`),
    parent: (p) => p.parent,
    refused: (p) => p.refused,
    waitsForChildren: (p) => p.ks.spec.wait === true,
    failed: (p, message) => failedResult(p, message),
    dependencyNotReady: (p, message) => ({ ...emptyResult(p), status: "DependencyNotReady", message }),
    reconcile: (p) => {
      const suspension = suspended.get(kustomizationKey(p.ks));
      if (suspension)
        return Promise.resolve({
          ...emptyResult(p),
          status: "Suspended",
          message: suspendedMessage(suspension),
        });
      return reconcileKustomization(api, p, options, runReads(), waits);
    },
    pruneRemoved: async (present) => {
      try {
        return { results: await pruneRemovedKustomizations(api, present, options) };
      } catch (err) {
        return { results: [], error: `pruning Kustomizations removed from Git: ${(err as Error).message}` };
      }
    },
  };
}

export function emptyResult(p: PlannedKustomization): KustomizationResult {
  return {
    name: p.ks.name,
    namespace: p.ks.namespace,
    path: p.ks.spec.path ?? "./",
    file: p.ks.file,
    status: "Ready",
    message: "",
    changes: [],
    errors: [],
    unhealthy: [],
    notApplied: [],
    durationMs: 0,
    ...(p.source ? { source: p.source } : {}),
    interval: {
      everyMs: p.ks.intervalMs,
      retryMs: p.ks.spec.retryInterval ? parseDuration(p.ks.spec.retryInterval) : p.ks.intervalMs,
    },
  };
}

export function failedResult(
  p: PlannedKustomization,
  message: string,
  extra: Partial<KustomizationResult> = {},
): KustomizationResult {
  return {
    ...emptyResult(p),
    status: "Failed",
    message,
    errors: [message],
    notApplied: p.objects.map((o) => subjectOf(o)),
    ...extra,
  };
}

async function reconcileKustomization(
  api: RawObjectApi,
  p: PlannedKustomization,
  opts: ReconcileOptions,
  reads: RunReads,
  waits: Semaphore,
): Promise<KustomizationResult> {
  const started = Date.now();
  const key = kustomizationKey(p.ks);
  const owner = { name: p.ks.name, namespace: p.ks.namespace };
  const done = (r: KustomizationResult) => ({ ...r, durationMs: Date.now() - started });
  if (p.ks.spec.suspend)
    return done({ ...emptyResult(p), status: "Suspended", message: "spec.suspend is true" });
  if (p.buildError) return done(failedResult(p, p.buildError));
  // healthCheckExprs are parsed before anything is applied: a bad expression applies nothing.
  let assess: ExprAssessor | undefined;
  try {
    // CEL is loaded only by a tree that uses it (its modules are a third of a fresh process's start).
    assess = p.ks.spec.healthCheckExprs
      ? (await import("../cluster/health-exprs.js")).compileHealthExprs(p.ks.spec.healthCheckExprs)
      : undefined;
  } catch (err) {
    return done(failedResult(p, `Kustomization/${key}: ${(err as Error).message}`));
  }

  // Apply, dry-run, prune and health reads act as the Kustomization's ServiceAccount when it has one; the
  // inventory is the bot's own record (like Flux's status) and is kept with the bot's identity.
  let client: ReturnType<typeof clientFor>;
  let objects: KubernetesObject[];
  let secrets: string[];
  let skipped: Prepared["skipped"];
  try {
    client = p.ks.spec.kubeConfig?.secretRef
      ? await remoteClientFor(api, opts, { namespace: p.ks.namespace, ...p.ks.spec }, remoteRef(p))
      : clientFor(api, opts, p.ks);
    ({ objects, secretValues: secrets, skipped } = await prepareObjects(api, client.api, p, opts));
  } catch (err) {
    return done(failedResult(p, `Kustomization/${key}: ${(err as Error).message}`));
  }
  const as = client.api;

  // A Kustomization Flux applied before the bot: Flux's own inventory says what to prune (flux-inventory.ts).
  const previous = (await reads.inventory(owner)) ?? (await fluxInventory(reads, owner, p, opts));
  if (previous && previous.scope !== opts.scope) {
    return done(
      failedResult(
        p,
        `Kustomization/${key} is already managed from ${previous.scope}; refusing to take it over from ${opts.scope}`,
      ),
    );
  }
  const applied = await applyAllStaged(as, objects, {
    dryRun: opts.dryRun,
    ...(opts.drift ? { drift: opts.drift } : {}),
    force: p.ks.spec.force ?? false,
    withDiff: opts.withDiff,
    concurrency: opts.applyConcurrency,
    previous: inventoryFingerprints(previous),
    createdInChange: opts.createdInChange,
    // Objects in another cluster are read there, one Kustomization at a time.
    ...(p.ks.spec.kubeConfig?.secretRef ? {} : { liveLists: reads.liveLists(as, client.user) }),
    owner: {
      labels: { [OWNER_NAME_LABEL]: owner.name, [OWNER_NAMESPACE_LABEL]: owner.namespace },
      managed: new Set((previous?.entries ?? []).map((e) => e.id)),
    },
  });
  const changeSet = applied.changeSet;
  for (const s of skipped) changeSet.add(s.object, "skipped", { reason: s.reason });
  if (secrets.length > 0) {
    // Values substituted from Secrets must not surface in diffs or errors, whatever object they landed in.
    for (const entry of changeSet.entries) if (entry.diff) entry.diff = scrubSecrets(entry.diff, secrets);
  }
  if (opts.untrusted) maskLiveValues(changeSet.entries);
  // API errors may echo what was sent: the values of Secrets this Kustomization renders too (diffs mask
  // those structurally already).
  const errorSecrets = [...secrets, ...secretValuesOf(objects)];
  if (errorSecrets.length > 0) {
    for (const e of applied.errors) e.message = scrubCredentials(scrubSecrets(e.message, errorSecrets));
  }
  opts.onProgress?.({ type: "applied", kustomization: key, summary: changeSet.summary() });
  const current = inventoryEntries(objects, applied.fingerprints);
  if (applied.errors.length > 0) {
    if (!opts.dryRun) {
      // Keep everything we ever applied in the inventory, so a later successful run can still prune it.
      const appliedIds = new Set(changeSet.entries.map((e) => e.id));
      const kept = [...(previous?.entries ?? []), ...current.filter((e) => appliedIds.has(e.id))];
      const unique = [...new Map(kept.map((e) => [e.id, e])).values()];
      await writeInventory(api, inventoryOf(p, opts, unique, client.user));
    }
    const appliedIds = new Set(changeSet.entries.map((e) => e.id));
    return done(
      failedResult(p, applied.errors[0]?.message ?? "apply failed", {
        changes: changeSet.entries,
        errors: applied.errors.map((e) => e.message),
        notApplied: opts.dryRun
          ? []
          : objects.filter((o) => !appliedIds.has(objectId(o))).map((o) => subjectOf(o)),
      }),
    );
  }

  if (!opts.dryRun) {
    const next = inventoryOf(p, opts, current, client.user);
    if (!(await reads.recorded(next))) await writeInventory(api, next);
  }
  const errors: string[] = [];
  if (p.ks.spec.prune && previous) {
    const pruned = await deleteStaleObjects(as, staleEntries(previous.entries, current), {
      dryRun: opts.dryRun,
      concurrency: opts.applyConcurrency,
      owner,
    });
    changeSet.append(pruned.changeSet);
    errors.push(...pruned.errors.map((e) => e.message));
  }

  let healthMs: number | undefined;
  let unhealthy: KustomizationResult["unhealthy"] = [];
  const checks = healthCheckTargets(p, objects);
  if (!opts.dryRun && !opts.skipHealth && checks.length > 0 && errors.length === 0) {
    opts.onProgress?.({ type: "waiting", kustomization: key, objects: checks.length });
    // Everything is applied: the next Kustomization may start while this one waits.
    yieldSlot();
    await waits.acquire();
    let health: Awaited<ReturnType<typeof waitForHealthy>>;
    try {
      health = await waitForHealthy(as, checks, {
        timeoutMs: p.ks.timeoutMs,
        concurrency: opts.applyConcurrency,
        ...(assess ? { assess } : {}),
        onPoll: (progress) => opts.onProgress?.({ type: "health", kustomization: key, progress }),
      });
    } finally {
      waits.release();
    }
    healthMs = health.elapsedMs;
    unhealthy = health.unhealthy;
    if (!health.healthy) {
      errors.push(
        ...unhealthy.map(
          (u) => `${u.subject} is ${u.status === "Failed" ? "failed" : "not ready"}: ${u.message}`,
        ),
      );
    }
  }
  return done({
    ...emptyResult(p),
    status: errors.length > 0 ? "Failed" : "Ready",
    message:
      errors.length > 0
        ? unhealthy.length > 0
          ? `health check failed: ${errors[0]}`
          : (errors[0] ?? "")
        : changeSet.summary(),
    changes: changeSet.entries,
    errors,
    unhealthy,
    healthMs,
  });
}

function remoteRef(p: PlannedKustomization): RemoteRef {
  const ref = p.ks.spec.kubeConfig?.secretRef;
  return { secretName: ref?.name ?? "", ...(ref?.key ? { key: ref.key } : {}) };
}

function inventoryOf(
  p: PlannedKustomization,
  opts: ReconcileOptions,
  entries: Inventory["entries"],
  user: string | undefined,
): Inventory {
  return {
    owner: { name: p.ks.name, namespace: p.ks.namespace },
    scope: opts.scope,
    prune: p.ks.spec.prune,
    ...(p.ks.spec.kubeConfig?.secretRef ? { remote: remoteRef(p) } : {}),
    ...(p.ks.spec.deletionPolicy
      ? { deletionPolicy: p.ks.spec.deletionPolicy, timeoutMs: p.ks.timeoutMs }
      : {}),
    ...(user ? { user } : {}),
    entries,
  };
}

interface Prepared {
  objects: KubernetesObject[];
  /** Values read from Secrets or decrypted: outputs are scrubbed of them. */
  secretValues: string[];
  /** Objects left out of this run, with why (SOPS-encrypted objects in a fork's preview). */
  skipped: Array<{ object: KubernetesObject; reason: string }>;
}

/** The objects Flux's kustomize-controller applied for this Kustomization, when it did and the bot never has. */
async function fluxInventory(
  reads: RunReads,
  owner: { name: string; namespace: string },
  p: PlannedKustomization,
  opts: ReconcileOptions,
): Promise<Inventory | undefined> {
  const entries = await reads.fluxInventory(owner);
  if (!entries || entries.length === 0) return undefined;
  opts.log?.info(
    { kustomization: kustomizationKey(p.ks), objects: entries.length },
    "first reconcile of a Kustomization Flux applied: its inventory is taken over",
  );
  return { owner, scope: opts.scope, prune: p.ks.spec.prune, entries };
}

/** Post-build substitution, default namespaces and ownership labels: the objects exactly as they will be applied. */
async function prepareObjects(
  api: RawObjectApi,
  as: RawObjectApi,
  p: PlannedKustomization,
  opts: ReconcileOptions,
): Promise<Prepared> {
  // SOPS first, as in Flux: decrypted values are then substituted like any other (build/sops.ts).
  const decrypted = await decryptObjects("", p.ks.namespace, p.ks.spec.decryption, p.objects, {
    ...(opts.untrusted ? {} : { readSecret: tenantSecretReader(clusterSecretReader(as), opts.tenancy) }),
  });
  const postBuild = p.ks.spec.postBuild
    ? await postBuildVars(as, p.ks, { readSecrets: !opts.untrusted, tenancy: opts.tenancy })
    : undefined;
  const vars = postBuild?.vars;
  const crdScopes = new Map<string, string>();
  for (const o of p.objects as (KubernetesObject & {
    spec?: { group?: string; names?: { kind?: string }; scope?: string };
  })[]) {
    if (o.kind === "CustomResourceDefinition")
      crdScopes.set(`${o.spec?.group}/${o.spec?.names?.kind}`, o.spec?.scope ?? "Namespaced");
  }
  // CRDs another Kustomization of the same change creates say their kind's scope too (a preview).
  for (const [kind, crd] of opts.createdInChange?.kinds ?? [])
    if (!crdScopes.has(kind)) crdScopes.set(kind, crd.spec?.scope ?? "Namespaced");
  const seen = new Set<string>();
  const out: KubernetesObject[] = [];
  const refused: string[] = [];
  for (const original of decrypted.objects) {
    let obj: KubernetesObject;
    try {
      obj = vars ? substituteObject(original, vars) : structuredClone(original);
    } catch (err) {
      const why =
        err instanceof SubstitutionError
          ? err.message
          : `the result is not valid YAML: ${(err as Error).message}`;
      throw new Error(`post-build substitution of ${subjectOf(original)} failed: ${why}`);
    }
    obj.metadata = { ...obj.metadata };
    const scope = await namespaced(api, obj, crdScopes);
    if (scope === true && !obj.metadata.namespace) {
      obj.metadata.namespace = p.ks.spec.targetNamespace ?? "default";
    } else if (scope === false && obj.metadata.namespace) {
      // kustomize's `namespace:` (targetNamespace) also stamps kinds it does not know are cluster-scoped.
      delete obj.metadata.namespace;
    }
    const violations: Violation[] = objectViolations(opts.tenancy, obj, scope);
    if (violations.length > 0) refused.push(describeViolations(subjectOf(obj), violations));
    obj.metadata.labels = {
      ...obj.metadata.labels,
      [OWNER_NAME_LABEL]: p.ks.name,
      [OWNER_NAMESPACE_LABEL]: p.ks.namespace,
    };
    const id = objectId(obj);
    if (seen.has(id)) throw new Error(`${subjectOf(obj)} is rendered twice`);
    seen.add(id);
    out.push(obj);
  }
  if (refused.length > 0) {
    // Nothing of this Kustomization is applied when one object is out of bounds.
    const more = refused.length > 3 ? `; and ${refused.length - 3} more` : "";
    throw new Error(`${refused.slice(0, 3).join("; ")}${more} (built from ${p.ks.spec.path ?? "./"})`);
  }
  if (opts.log)
    opts.log.debug({ kustomization: kustomizationKey(p.ks), objects: out.length }, "prepared objects");
  return {
    objects: out,
    secretValues: [...(postBuild?.secretValues ?? []), ...decrypted.secretValues],
    skipped: decrypted.skipped,
  };
}

async function namespaced(
  api: RawObjectApi,
  obj: KubernetesObject,
  crdScopes: Map<string, string>,
): Promise<boolean | undefined> {
  const group = obj.apiVersion?.includes("/") ? obj.apiVersion.split("/")[0] : "";
  const fromCrd = crdScopes.get(`${group}/${obj.kind}`);
  if (fromCrd) return fromCrd === "Namespaced";
  // undefined: a kind the API server does not serve; its apply fails with the server's own message.
  return api.isNamespaced(obj.apiVersion ?? "", obj.kind ?? "");
}

function healthCheckTargets(p: PlannedKustomization, objects: KubernetesObject[]): KubernetesObject[] {
  if (p.ks.spec.wait) return objects;
  return (p.ks.spec.healthChecks ?? []).map((h) => ({
    apiVersion: h.apiVersion ?? "v1",
    kind: h.kind,
    metadata: { name: h.name, namespace: h.namespace },
  }));
}

/** Kustomizations of this scope that the cluster knows (by inventory) but Git no longer has. */
async function pruneRemovedKustomizations(
  api: RawObjectApi,
  planned: PlannedKustomization[],
  opts: ReconcileOptions,
): Promise<KustomizationResult[]> {
  const present = new Set(planned.map((p) => kustomizationKey(p.ks)));
  const inventories = await listInventories(api, opts.scope);
  const removed = inventories.filter((inv) => !present.has(kustomizationKey(inv.owner)));
  return mapLimit(removed, opts.concurrency, async (inv) => {
    const started = Date.now();
    const changeSet = new ChangeSet();
    const errors: string[] = [];
    // The policy may have narrowed since these objects were applied: nothing outside it is deleted.
    const outside = inv.entries.filter((e) => {
      const namespace = parseObjectId(e.id).namespace;
      return namespace
        ? namespaceRefusal(opts.tenancy, namespace) !== undefined
        : opts.tenancy !== undefined && !opts.tenancy.clusterScoped;
    });
    const deletes = deletesOnRemoval(inv);
    if (deletes && outside.length > 0) {
      errors.push(
        `Kustomization/${kustomizationKey(inv.owner)}: not pruned: ${outside.length} of its objects (${outside
          .slice(0, 3)
          .map((e) => subjectOf(parseObjectId(e.id)))
          .join(", ")}) are outside what ${opts.tenancy?.tenant} may change`,
      );
    } else if (deletes) {
      // As the identity that applied them. The inventory is a ConfigMap its namespace may write: only a
      // ServiceAccount of that namespace is believed, and never less than the policy's default.
      const recorded = inv.user?.startsWith(`system:serviceaccount:${inv.owner.namespace}:`)
        ? inv.user.split(":").at(-1)
        : undefined;
      const user = impersonatedUser(opts.tenancy, inv.owner.namespace, recorded);
      // Objects in another cluster are pruned there, with the kubeconfig Secret they were applied with.
      const as = inv.remote
        ? (
            await remoteClientFor(
              api,
              opts,
              { namespace: inv.owner.namespace, ...(recorded ? { serviceAccountName: recorded } : {}) },
              inv.remote,
            )
          ).api
        : user
          ? api.impersonating(user)
          : api;
      const pruned = await deleteStaleObjects(as, inv.entries, {
        dryRun: opts.dryRun,
        concurrency: opts.applyConcurrency,
        owner: inv.owner,
      });
      changeSet.append(pruned.changeSet);
      errors.push(...pruned.errors.map((e) => e.message));
      if (inv.deletionPolicy === "WaitForTermination" && !opts.dryRun && errors.length === 0) {
        const left = await waitForDeletion(as, pruned.changeSet.entries, inv.timeoutMs ?? 5 * 60_000);
        if (left.length > 0)
          errors.push(
            `Kustomization/${kustomizationKey(inv.owner)}: deletionPolicy WaitForTermination: ${left.length} object(s) still terminating after ${Math.round((inv.timeoutMs ?? 300_000) / 1000)}s: ${left.slice(0, 3).join(", ")}`,
          );
      }
    }
    if (!opts.dryRun && errors.length === 0) await deleteInventory(api, inv.owner);
    return {
      name: inv.owner.name,
      namespace: inv.owner.namespace,
      path: "",
      file: "",
      status: errors.length > 0 ? "Failed" : "Ready",
      message: `removed from Git: ${deletes ? changeSet.summary() : inv.deletionPolicy === "Orphan" ? "deletionPolicy is Orphan, objects kept" : "prune is disabled, objects kept"}`,
      changes: changeSet.entries,
      errors,
      unhealthy: [],
      notApplied: [],
      durationMs: Date.now() - started,
    } satisfies KustomizationResult;
  });
}
