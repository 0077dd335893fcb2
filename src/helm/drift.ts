// Drift detection for Helm releases, as helm-controller's driftDetection does it: server-side dry-run apply
// of the release manifest, compared with the live objects; `ignore` rules (JSON pointers, optionally per
// target) leave fields out of the comparison and out of the correction. Correction re-applies the manifest
// with Helm's field manager, so a later `helm upgrade` owns the same fields as before.
import { type KubernetesObject, PatchStrategy } from "@kubernetes/client-node";
import type { RawObjectApi } from "../cluster/kube-client.js";
import { objectDiff } from "../cluster/ssa/apply.js";
import type { ChangeSetEntry } from "../cluster/ssa/changeset.js";
import { ObjectError } from "../cluster/ssa/errors.js";
import { jsonEqual, normalizeForDiff } from "../cluster/ssa/normalize.js";
import { groupOf, objectId, subjectOf } from "../cluster/ssa/object-id.js";
import { getLive } from "../cluster/ssa/read.js";
import { mapLimit } from "../reconcile/concurrency.js";

export const HELM_FIELD_MANAGER = "helm";

export interface IgnoreRule {
  paths: string[];
  target?: {
    group?: string;
    version?: string;
    kind?: string;
    name?: string;
    namespace?: string;
    labelSelector?: string;
    annotationSelector?: string;
  };
}

export interface DriftOptions {
  namespace: string;
  /** The release the objects belong to: helm stamps its ownership label and annotations on apply. */
  releaseName: string;
  ignore: IgnoreRule[];
  correct: boolean;
  withDiff: boolean;
}

function matchesPattern(pattern: string | undefined, value: string): boolean {
  if (!pattern) return true;
  try {
    return new RegExp(`^(?:${pattern})$`).test(value);
  } catch {
    return pattern === value;
  }
}

function matchesSelector(selector: string | undefined, values: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  return selector.split(",").every((term) => {
    const [key, want] = term.split(/!?=/).map((s) => s.trim());
    if (!key) return true;
    const negate = term.includes("!=");
    if (want === undefined) return key in (values ?? {});
    return negate ? values?.[key] !== want : values?.[key] === want;
  });
}

export function ruleApplies(rule: IgnoreRule, obj: KubernetesObject): boolean {
  const t = rule.target;
  if (!t) return true;
  const version = (obj.apiVersion ?? "").split("/").at(-1) ?? "";
  return (
    matchesPattern(t.group, groupOf(obj.apiVersion)) &&
    matchesPattern(t.version, version) &&
    matchesPattern(t.kind, obj.kind ?? "") &&
    matchesPattern(t.name, obj.metadata?.name ?? "") &&
    matchesPattern(t.namespace, obj.metadata?.namespace ?? "") &&
    matchesSelector(t.labelSelector, obj.metadata?.labels) &&
    matchesSelector(t.annotationSelector, obj.metadata?.annotations)
  );
}

function pointerTokens(pointer: string): string[] {
  return pointer
    .split("/")
    .slice(1)
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

type Json = Record<string, unknown> | unknown[];

function getAt(obj: unknown, tokens: string[]): unknown {
  let cur: unknown = obj;
  for (const t of tokens) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[t];
  }
  return cur;
}

/** Removes the value at a JSON pointer; returns whether something was there. */
export function removeAt(obj: unknown, pointer: string): boolean {
  const tokens = pointerTokens(pointer);
  const last = tokens.pop();
  const parent = getAt(obj, tokens);
  if (last === undefined || parent === null || typeof parent !== "object") return false;
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!Number.isInteger(i) || i >= parent.length) return false;
    parent.splice(i, 1);
    return true;
  }
  if (!(last in parent)) return false;
  delete (parent as Record<string, unknown>)[last];
  return true;
}

/** Sets the value at a JSON pointer to what `source` has there (or removes it when `source` has none). */
function copyAt(target: unknown, source: unknown, pointer: string): void {
  const tokens = pointerTokens(pointer);
  const value = getAt(source, tokens);
  if (value === undefined) {
    removeAt(target, pointer);
    return;
  }
  const last = tokens.pop() as string;
  let cur = target as Json;
  for (const t of tokens) {
    const next = (cur as Record<string, unknown>)[t];
    if (next === null || typeof next !== "object") (cur as Record<string, unknown>)[t] = {};
    cur = (cur as Record<string, unknown>)[t] as Json;
  }
  (cur as Record<string, unknown>)[last] = structuredClone(value);
}

function ignoredPaths(rules: IgnoreRule[], obj: KubernetesObject): string[] {
  return rules.filter((r) => ruleApplies(r, obj)).flatMap((r) => r.paths);
}

function comparable(obj: KubernetesObject, paths: string[]): KubernetesObject {
  const copy = normalizeForDiff(obj);
  for (const p of paths) removeAt(copy, p);
  return copy;
}

function apply(api: RawObjectApi, obj: KubernetesObject, dryRun: boolean): Promise<KubernetesObject> {
  return api.patch(
    obj,
    undefined,
    dryRun ? "All" : undefined,
    HELM_FIELD_MANAGER,
    true,
    PatchStrategy.ServerSideApply,
  );
}

/** The manifest as helm applies it: with the ownership metadata `helm get manifest` does not show. */
function withHelmOwnership(obj: KubernetesObject, releaseName: string, namespace: string): KubernetesObject {
  return {
    ...obj,
    metadata: {
      ...obj.metadata,
      labels: { ...obj.metadata?.labels, "app.kubernetes.io/managed-by": "Helm" },
      annotations: {
        ...obj.metadata?.annotations,
        "meta.helm.sh/release-name": releaseName,
        "meta.helm.sh/release-namespace": namespace,
      },
    },
  };
}

/** The release's objects that differ from the cluster (missing ones as `created`), corrected when asked. */
export async function detectDrift(
  api: RawObjectApi,
  manifest: KubernetesObject[],
  opts: DriftOptions,
): Promise<ChangeSetEntry[]> {
  const results = await mapLimit(manifest, 8, async (original): Promise<ChangeSetEntry | undefined> => {
    let obj = withHelmOwnership(original, opts.releaseName, opts.namespace);
    if (!obj.metadata?.namespace && (await api.isNamespaced(obj.apiVersion ?? "", obj.kind ?? ""))) {
      obj = { ...obj, metadata: { ...obj.metadata, namespace: opts.namespace } };
    }
    const base = { id: objectId(obj), subject: subjectOf(obj), apiVersion: obj.apiVersion ?? "" };
    const live = await getLive(api, obj);
    const paths = ignoredPaths(opts.ignore, obj);
    try {
      if (!live) {
        if (opts.correct) await apply(api, obj, false);
        return { ...base, action: "created", ...(opts.withDiff ? { diff: objectDiff(undefined, obj) } : {}) };
      }
      const desired = structuredClone(obj);
      for (const p of paths) copyAt(desired, live, p);
      const dry = await apply(api, desired, true);
      if (jsonEqual(comparable(live, paths), comparable(dry, paths))) return undefined;
      if (opts.correct) await apply(api, desired, false);
      return { ...base, action: "configured", ...(opts.withDiff ? { diff: objectDiff(live, dry) } : {}) };
    } catch (err) {
      throw ObjectError.from(obj, opts.correct ? "apply" : "dry-run", err);
    }
  });
  return results.filter((r): r is ChangeSetEntry => r !== undefined);
}
