// Server-side apply of a set of objects, the way Flux's ssa.ResourceManager does it:
// - cluster definitions (CRDs, Namespaces) first, then wait for CRDs to be Established, then everything else;
// - every object of a stage is dry-run first; if any fails, nothing of that stage is applied;
// - only objects whose dry-run result differs from the live object are applied for real;
// - bounded parallelism; errors name the object.
import { type KubernetesObject, PatchStrategy } from "@kubernetes/client-node";
import { mapLimit } from "../../reconcile/concurrency.js";
import { unifiedDiff } from "../../reconcile/text-diff.js";
import { toYaml } from "../../reconcile/yaml.js";
import type { RawObjectApi } from "../kube-client.js";
import { DEFAULT_APPLY_CONCURRENCY, FIELD_MANAGER } from "./apply-defaults.js";
import { type Action, ChangeSet } from "./changeset.js";
import { type Drift, type DriftMode, findDrift, RECONCILE_ANNOTATION, reconcileDisabled } from "./drift.js";
import { isImmutableFieldError, ObjectError } from "./errors.js";
import { takenOverFields, takeOverFields } from "./field-takeover.js";
import { desiredHash, type Fingerprint, liveHash, unchangedSince } from "./fingerprint.js";
import { LiveIndex, type SharedLiveLists } from "./live-index.js";
import { maskSecret, maskSecretPair, maskSecretValuesInText } from "./mask-secrets.js";
import { jsonEqual, normalizeForDiff } from "./normalize.js";
import { objectId, subjectOf } from "./object-id.js";
import {
  type CreatedInChange,
  definitionsInChange,
  kindKey,
  missingNamespaceInChange,
  NEW_KIND_REASON,
  NEW_NAMESPACE_REASON,
  pendingKindError,
  unservedKinds,
  validateInExistingNamespace,
  withDefinitions,
} from "./pending-definitions.js";
import { getLive } from "./read.js";
import { waitForEstablished } from "./wait.js";

export { FIELD_MANAGER };
export const SSA_ANNOTATION = "kustomize.toolkit.fluxcd.io/ssa";
export const FORCE_ANNOTATION = "kustomize.toolkit.fluxcd.io/force";

export interface ApplyOptions {
  /** Server-side dry-run only: report what would change, change nothing. */
  dryRun: boolean;
  /** Recreate objects whose immutable fields changed (Flux's `spec.force`). */
  force: boolean;
  /** Produce a YAML diff for objects that would be configured (for PR comments and `gitops-bot diff`). */
  withDiff: boolean;
  /** API requests in flight at once. */
  concurrency: number;
  /** How long to wait for applied CRDs to become Established before applying custom objects. */
  crdTimeoutMs: number;
  /** Fingerprints from the last apply (the inventory), by object id: unchanged objects skip the dry-run. */
  previous?: ReadonlyMap<string, Fingerprint>;
  /**
   * Who applies: in a dry run or a diff, an existing object it does not own is reported as taken over, and
   * nothing of its live content (no diff, not even whether it equals the desired object) is shown. Without an
   * owner, no existing object counts as owned.
   */
  owner?: ApplyOwner;
  /** A live object that drifted from an unchanged Git manifest: applied again (default) or left (drift.ts). */
  drift?: DriftMode;
  /**
   * The namespaces and CRDs the whole change declares (every Kustomization of the plan): in a dry run, objects
   * the API server refuses only because those do not exist yet are previewed as created (pending-definitions.ts).
   */
  createdInChange?: CreatedInChange;
  /** LISTs of live objects shared with the other applies of the run made as the same identity (live-index.ts). */
  liveLists?: SharedLiveLists;
}

/** The owner of an apply: a Kustomization, by its ownership labels and its inventory. */
export interface ApplyOwner {
  /** Labels every object it manages carries (`kustomize.toolkit.fluxcd.io/name` and `/namespace`). */
  labels: Readonly<Record<string, string>>;
  /** Ids of the objects its last apply recorded (its inventory). */
  managed: ReadonlySet<string>;
}

export const TAKEOVER_REASON = "exists, not managed here, would be taken over";
export const DRIFT_LEFT_REASON = "drifted from Git; left as it is (drift: report)";

/** Whether a live object carries the owner's labels (whoever applied it: the bot, or Flux before it). */
function carriesOwnerLabels(owner: ApplyOwner | undefined, live: KubernetesObject): boolean {
  if (!owner) return false;
  const labels = live.metadata?.labels ?? {};
  return Object.entries(owner.labels).every(([k, v]) => labels[k] === v);
}

/** Whether a live object is the owner's: in its inventory and carrying its labels. */
export function ownedBy(owner: ApplyOwner | undefined, live: KubernetesObject): boolean {
  if (!owner?.managed.has(objectId(live))) return false;
  const labels = live.metadata?.labels ?? {};
  return Object.entries(owner.labels).every(([k, v]) => labels[k] === v);
}

export function defaultApplyOptions(): ApplyOptions {
  return {
    dryRun: false,
    force: false,
    withDiff: false,
    concurrency: DEFAULT_APPLY_CONCURRENCY,
    crdTimeoutMs: 60_000,
  };
}

export interface ApplyResult {
  changeSet: ChangeSet;
  /** Objects that failed; when non-empty, the stage they were in was not applied. */
  errors: ObjectError[];
  /** Objects that were not attempted because an earlier stage failed. */
  notAttempted: string[];
  /** For the inventory: each object's desired hash and resourceVersion after this apply (real applies only). */
  fingerprints: Map<string, Fingerprint>;
}

export function isClusterDefinition(obj: KubernetesObject): boolean {
  return (
    (obj.kind === "CustomResourceDefinition" && obj.apiVersion?.startsWith("apiextensions.k8s.io/")) ||
    (obj.kind === "Namespace" && obj.apiVersion === "v1")
  );
}

/** Applies all objects in stages; see the file comment for the order and guarantees. */
export async function applyAllStaged(
  api: RawObjectApi,
  objects: KubernetesObject[],
  options: Partial<ApplyOptions> = {},
): Promise<ApplyResult> {
  const opts = { ...defaultApplyOptions(), ...options };
  const changeSet = new ChangeSet();
  const definitions = objects.filter(isClusterDefinition);
  const rest = objects.filter((o) => !isClusterDefinition(o));
  // What this apply declares itself counts too, whoever calls it (a Namespace and its objects in one build).
  if (opts.dryRun) opts.createdInChange = withDefinitions(opts.createdInChange, definitions);

  const first = await applyStage(api, definitions, opts);
  changeSet.append(first.changeSet);
  const fingerprints = first.fingerprints;
  if (first.errors.length > 0) {
    return { changeSet, errors: first.errors, notAttempted: rest.map((o) => subjectOf(o)), fingerprints };
  }
  const crds = definitions.filter((o) => o.kind === "CustomResourceDefinition");
  if (crds.length > 0 && !opts.dryRun) {
    const waitErrors = await waitForEstablished(api, crds, opts.crdTimeoutMs);
    if (waitErrors.length > 0)
      return { changeSet, errors: waitErrors, notAttempted: rest.map((o) => subjectOf(o)), fingerprints };
  }
  // In a dry run, custom objects whose CRD is only being created now (by this apply or another Kustomization of
  // the change) cannot be dry-run by the server: their CRD's schema checks them instead.
  const pendingKinds = opts.dryRun
    ? new Set([
        ...newCustomKinds(first.changeSet, crds),
        ...(await unservedKinds(api, opts.createdInChange, rest)),
      ])
    : new Set<string>();
  const validatable = rest.filter((o) => !pendingKinds.has(kindKey(o)));
  const schemaRefused: ObjectError[] = [];
  for (const o of rest.filter((o) => pendingKinds.has(kindKey(o)))) {
    const refused = pendingKindError(o, opts.createdInChange, definitionsInChange(crds).kinds);
    if (refused) schemaRefused.push(refused);
    else
      changeSet.add(o, "created", {
        reason: NEW_KIND_REASON,
        diff: opts.withDiff ? objectDiff(undefined, o) : undefined,
      });
  }
  // A CRD that changed in this run may change how its objects are defaulted or pruned: compare them in full.
  const changedKinds = changedCustomKinds(first.changeSet, crds);
  const previous =
    changedKinds.size > 0 && opts.previous
      ? new Map([...opts.previous].filter(([id]) => !changedKinds.has(idKindKey(id))))
      : opts.previous;
  const second = await applyStage(api, validatable, { ...opts, previous });
  changeSet.append(second.changeSet);
  for (const [id, f] of second.fingerprints) fingerprints.set(id, f);
  return { changeSet, errors: [...schemaRefused, ...second.errors], notAttempted: [], fingerprints };
}

interface Planned {
  obj: KubernetesObject;
  hash: string;
  /** The live object when it is left as it is. */
  liveObject?: KubernetesObject;
  action: Action;
  reason?: string;
  diff?: string;
  recreate?: boolean;
  drift?: Drift;
  /** The fingerprint to record instead of the live object's: a drift left as it is is found again next time. */
  keep?: Fingerprint;
}

async function applyStage(
  api: RawObjectApi,
  objects: KubernetesObject[],
  opts: ApplyOptions,
): Promise<ApplyResult> {
  const changeSet = new ChangeSet();
  const errors: ObjectError[] = [];
  const fingerprints = new Map<string, Fingerprint>();
  const live = await LiveIndex.prefetch(api, objects, opts.concurrency, opts.liveLists);
  const planned = await mapLimit(objects, opts.concurrency, async (obj) => {
    try {
      return await planObject(api, live, obj, opts);
    } catch (err) {
      errors.push(err instanceof ObjectError ? err : ObjectError.from(obj, "dry-run", err));
      return undefined;
    }
  });
  if (errors.length > 0) return { changeSet, errors, notAttempted: [], fingerprints };
  // A drift's diff shows live values: no value of a Secret applied here may show in it, whatever object
  // someone copied it into in the cluster.
  for (const plan of planned)
    if (plan?.drift && plan.diff) plan.diff = maskSecretValuesInText(plan.diff, objects);

  await mapLimit(planned, opts.concurrency, async (plan) => {
    if (!plan) return;
    let after = plan.liveObject;
    if (!opts.dryRun && (plan.action === "created" || plan.action === "configured")) {
      try {
        after = plan.recreate ? await recreate(api, plan.obj) : await serverSideApply(api, plan.obj, false);
      } catch (err) {
        errors.push(ObjectError.from(plan.obj, "apply", err));
        return;
      }
    }
    const fingerprint = plan.keep ?? (after ? { h: plan.hash, l: liveHash(after) } : undefined);
    if (fingerprint) fingerprints.set(objectId(plan.obj), fingerprint);
    changeSet.add(plan.obj, plan.action, { reason: plan.reason, diff: plan.diff, drift: plan.drift });
  });
  return { changeSet, errors, notAttempted: [], fingerprints };
}

async function planObject(
  api: RawObjectApi,
  liveIndex: LiveIndex,
  obj: KubernetesObject,
  opts: ApplyOptions,
): Promise<Planned> {
  const hash = desiredHash(obj);
  const policy = obj.metadata?.annotations?.[SSA_ANNOTATION];
  if (policy === "Ignore" || policy === "ignore") {
    return { obj, hash, action: "skipped", reason: `${SSA_ANNOTATION}: Ignore` };
  }
  let live = await liveIndex.get(obj);
  if (live && (policy === "IfNotPresent" || policy === "ifnotpresent")) {
    return {
      obj,
      hash,
      liveObject: live,
      action: "skipped",
      reason: `${SSA_ANNOTATION}: IfNotPresent and the object exists`,
    };
  }
  if (reconcileDisabled(live)) {
    return { obj, hash, liveObject: live, action: "skipped", reason: `${RECONCILE_ANNOTATION}: disabled` };
  }
  // Fields Flux's kustomize-controller or kubectl applied for this Kustomization become the bot's before its
  // first apply, so what Git dropped is removed (field-takeover.ts). Never in a preview.
  if (live && !opts.dryRun && carriesOwnerLabels(opts.owner, live) && takenOverFields(live, FIELD_MANAGER))
    live = await takeOverFields(api, live, FIELD_MANAGER);
  if (unchangedSince(opts.previous?.get(objectId(obj)), hash, live)) {
    return { obj, hash, liveObject: live, action: "unchanged" };
  }
  // A preview shows no live content of objects this owner does not manage: a pull request could otherwise
  // declare any object (another namespace's ConfigMap) to read it back as diff context.
  const hidden = live !== undefined && (opts.dryRun || opts.withDiff) && !ownedBy(opts.owner, live);
  let dryRun: KubernetesObject;
  try {
    dryRun = await serverSideApply(api, obj, true);
  } catch (err) {
    const forced = opts.force || obj.metadata?.annotations?.[FORCE_ANNOTATION] === "enabled";
    if (live && forced && isImmutableFieldError(err)) {
      return {
        obj,
        hash,
        action: "configured",
        reason: hidden ? TAKEOVER_REASON : "recreated: an immutable field changed",
        recreate: true,
        diff: opts.withDiff && !hidden ? objectDiff(live, obj) : undefined,
      };
    }
    const newNamespace = opts.dryRun ? missingNamespaceInChange(err, obj, opts.createdInChange) : undefined;
    if (newNamespace) {
      await validateInExistingNamespace(api, obj);
      const diff = opts.withDiff ? objectDiff(undefined, obj) : undefined;
      return { obj, hash, action: "created", reason: NEW_NAMESPACE_REASON(newNamespace), diff };
    }
    throw ObjectError.from(obj, "dry-run", err);
  }
  if (!live) {
    return { obj, hash, action: "created", diff: opts.withDiff ? objectDiff(undefined, dryRun) : undefined };
  }
  if (hidden) return { obj, hash, action: "configured", reason: TAKEOVER_REASON };
  if (jsonEqual(normalizeForDiff(live), normalizeForDiff(dryRun)))
    return { obj, hash, liveObject: live, action: "unchanged" };
  const previous = opts.previous?.get(objectId(obj));
  const drift = opts.dryRun
    ? undefined
    : findDrift({
        previous,
        desiredHash: hash,
        live,
        dryRun,
        mode: opts.drift ?? "correct",
        fieldManager: FIELD_MANAGER,
      });
  const diff = opts.withDiff || drift ? objectDiff(live, dryRun) : undefined;
  if (drift?.action === "left as it is")
    return { obj, hash, action: "skipped", reason: DRIFT_LEFT_REASON, diff, drift, keep: previous };
  return { obj, hash, action: "configured", diff, drift };
}

function serverSideApply(
  api: RawObjectApi,
  obj: KubernetesObject,
  dryRun: boolean,
): Promise<KubernetesObject> {
  // Force: like Flux, the bot owns the fields it applies even if another manager set them before.
  return api.patch(
    obj,
    undefined,
    dryRun ? "All" : undefined,
    FIELD_MANAGER,
    true,
    PatchStrategy.ServerSideApply,
  );
}

async function recreate(api: RawObjectApi, obj: KubernetesObject): Promise<KubernetesObject> {
  await api.delete(obj, undefined, undefined, undefined, undefined, "Foreground");
  const deadline = Date.now() + 60_000;
  while ((await getLive(api, obj)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  return serverSideApply(api, obj, false);
}

/** A readable YAML diff of an object, server-managed fields dropped and Secret values masked. */
export function objectDiff(before: KubernetesObject | undefined, after: KubernetesObject): string {
  if (!before) return unifiedDiff("", toYaml(maskSecret(normalizeForDiff(after))));
  const [b, a] = maskSecretPair(normalizeForDiff(before), normalizeForDiff(after));
  return unifiedDiff(toYaml(b), toYaml(a));
}

/** `group/Kind` of an object id (`namespace_name_group_kind`). */
function idKindKey(id: string): string {
  const parts = id.split("_");
  return `${parts.at(-2) ?? ""}/${parts.at(-1) ?? ""}`;
}

/** `group/Kind` of the custom kinds whose CRD was created or configured in this change set. */
function changedCustomKinds(defs: ChangeSet, crds: KubernetesObject[]): Set<string> {
  const changed = new Set(
    defs.entries.filter((e) => e.action === "created" || e.action === "configured").map((e) => e.id),
  );
  const kinds = new Set<string>();
  for (const crd of crds as (KubernetesObject & { spec?: { group?: string; names?: { kind?: string } } })[]) {
    if (changed.has(objectId(crd))) kinds.add(`${crd.spec?.group}/${crd.spec?.names?.kind}`);
  }
  return kinds;
}

function newCustomKinds(defs: ChangeSet, crds: KubernetesObject[]): Set<string> {
  const created = new Set(defs.entries.filter((e) => e.action === "created").map((e) => e.id));
  const kinds = new Set<string>();
  for (const crd of crds as (KubernetesObject & { spec?: { group?: string; names?: { kind?: string } } })[]) {
    const id = `_${crd.metadata?.name}_apiextensions.k8s.io_CustomResourceDefinition`;
    if (created.has(id)) kinds.add(`${crd.spec?.group}/${crd.spec?.names?.kind}`);
  }
  return kinds;
}
