// Drift detection for Helm releases, as helm-controller's driftDetection does it: server-side dry-run apply
// of the release manifest, compared with the live objects; `ignore` rules (JSON pointers, optionally per
// target) leave fields out of the comparison and out of the correction. Correction re-applies the manifest
// with Helm's field manager, so a later `helm upgrade` owns the same fields as before.
import { type KubernetesObject, PatchStrategy } from "@kubernetes/client-node";
import { RE2JS } from "re2js";
import type { RawObjectApi } from "../cluster/kube-client.js";
import { objectDiff } from "../cluster/ssa/apply.js";
import type { ChangeSetEntry } from "../cluster/ssa/changeset.js";
import { ObjectError } from "../cluster/ssa/errors.js";
import { jsonEqual, normalizeForDiff } from "../cluster/ssa/normalize.js";
import { groupOf, objectId, subjectOf } from "../cluster/ssa/object-id.js";
import { getLive } from "../cluster/ssa/read.js";
import { mapLimit } from "../reconcile/concurrency.js";
import { ownValue } from "./values.js";

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

// Target patterns come from the repository: RE2 (Go's syntax, linear time), never a backtracking JS RegExp.
function matchesPattern(pattern: string | undefined, value: string): boolean {
  if (!pattern) return true;
  try {
    return RE2JS.compile(`^(?:${pattern})$`).matches(value);
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

// Ignore paths are JSON pointers from the repository, walked through objects of the server process: a token
// that names a JS prototype would reach (and could delete from) Object.prototype. They are refused when the
// HelmRelease is read (ignorePathError) and, as a second line, never followed here.
const FORBIDDEN_TOKENS = new Set(["__proto__", "prototype", "constructor"]);

function pointerTokens(pointer: string): string[] {
  return pointer
    .split("/")
    .slice(1)
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** Why an ignore path cannot be used, or undefined when it is fine. */
export function ignorePathError(pointer: string): string | undefined {
  if (!pointer.startsWith("/")) return `"${pointer}" is not a JSON pointer (it must start with /)`;
  const bad = pointerTokens(pointer).find((t) => FORBIDDEN_TOKENS.has(t));
  return bad === undefined ? undefined : `"${pointer}": the segment "${bad}" is not allowed in a path`;
}

type Json = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Json {
  return value !== null && typeof value === "object";
}

function safeTokens(pointer: string): string[] | undefined {
  const tokens = pointerTokens(pointer);
  return tokens.some((t) => FORBIDDEN_TOKENS.has(t)) ? undefined : tokens;
}

function getAt(obj: unknown, tokens: string[]): unknown {
  let cur: unknown = obj;
  for (const t of tokens) {
    if (!isContainer(cur)) return undefined;
    cur = ownValue(cur, t);
  }
  return cur;
}

/** Removes the value at a JSON pointer; returns whether something was there. */
export function removeAt(obj: unknown, pointer: string): boolean {
  const tokens = safeTokens(pointer);
  const last = tokens?.pop();
  if (!tokens || last === undefined) return false;
  const parent = getAt(obj, tokens);
  if (!isContainer(parent)) return false;
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!Number.isInteger(i) || i < 0 || i >= parent.length) return false;
    parent.splice(i, 1);
    return true;
  }
  if (!Object.hasOwn(parent, last)) return false;
  delete parent[last];
  return true;
}

/** Sets the value at a JSON pointer to what `source` has there (or removes it when `source` has none). */
function copyAt(target: unknown, source: unknown, pointer: string): void {
  const tokens = safeTokens(pointer);
  if (!tokens || tokens.length === 0) return;
  const value = getAt(source, tokens);
  if (value === undefined) {
    removeAt(target, pointer);
    return;
  }
  const last = tokens.pop() as string;
  let cur = target as Json;
  for (const t of tokens) {
    const next = ownValue(cur, t);
    if (!isContainer(next)) (cur as Record<string, unknown>)[t] = {};
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

/** Server-side apply (or its dry-run) as helm applies: Helm's field manager, conflicts forced. */
export function applyAsHelm(
  api: RawObjectApi,
  obj: KubernetesObject,
  dryRun: boolean,
): Promise<KubernetesObject> {
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
export function withHelmOwnership(
  obj: KubernetesObject,
  releaseName: string,
  namespace: string,
): KubernetesObject {
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
        if (opts.correct) await applyAsHelm(api, obj, false);
        return { ...base, action: "created", ...(opts.withDiff ? { diff: objectDiff(undefined, obj) } : {}) };
      }
      const desired = structuredClone(obj);
      for (const p of paths) copyAt(desired, live, p);
      const dry = await applyAsHelm(api, desired, true);
      if (jsonEqual(comparable(live, paths), comparable(dry, paths))) return undefined;
      if (opts.correct) await applyAsHelm(api, desired, false);
      return { ...base, action: "configured", ...(opts.withDiff ? { diff: objectDiff(live, dry) } : {}) };
    } catch (err) {
      throw ObjectError.from(obj, opts.correct ? "apply" : "dry-run", err);
    }
  });
  return results.filter((r): r is ChangeSetEntry => r !== undefined);
}
