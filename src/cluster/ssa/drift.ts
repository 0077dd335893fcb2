// Drift: a live object that differs from what the bot applied although Git did not change it. Found during the
// apply's dry-run (apply.ts planObject): the desired manifest hashes as the inventory recorded it, but the live
// object changed since and the server-side dry-run of the same manifest differs from it. A drift is recorded as
// field paths and the field managers that changed them (from managedFields). Values are not recorded here:
// they are only in the change set entry's diff, which masks Secrets and gets scrubbed like every other diff.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Fingerprint } from "./fingerprint.js";
import { jsonEqual, normalizeForDiff } from "./normalize.js";

/** Per cluster (operator `drift`): `correct` applies Git's version again (Flux), `report` leaves the object. */
export type DriftMode = "correct" | "report";

/** Flux's exclusion: a live object annotated `disabled` is neither applied nor pruned. */
export const RECONCILE_ANNOTATION = "kustomize.toolkit.fluxcd.io/reconcile";

/** What the bot did about a drifted object. */
export type DriftAction = "corrected" | "left as it is";

/** A field manager from the live object's managedFields. */
export interface DriftManager {
  manager: string;
  /** `Apply` (server-side apply) or `Update` (edit, patch, replace). */
  operation: string;
  /** When that manager last wrote, as the API server recorded it. */
  time?: string;
}

export interface Drift {
  /** Paths of the fields that differ, e.g. `spec.replicas`, `spec.template.spec.containers[0].image`. */
  fields: string[];
  /** How many more fields differ than are listed. */
  moreFields?: number;
  /** Managers other than the bot that own a changed field now; when none does, the ones that wrote after it. */
  managers: DriftManager[];
  action: DriftAction;
}

export const MAX_DRIFT_FIELDS = 20;

type Segment = string | number;

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  time?: string | Date;
  subresource?: string;
  fieldsV1?: unknown;
}

export function reconcileDisabled(live: KubernetesObject | undefined): boolean {
  return live?.metadata?.annotations?.[RECONCILE_ANNOTATION]?.toLowerCase() === "disabled";
}

/**
 * The drift of `live`, or undefined: when Git changed the object since the last apply (its desired hash is not
 * the one recorded), when there is no record, or when nothing differs from the dry-run.
 */
export function findDrift(input: {
  previous: Fingerprint | undefined;
  desiredHash: string;
  live: KubernetesObject;
  dryRun: KubernetesObject;
  mode: DriftMode;
  /** The bot's own field manager: its entries are not who drifted the object. */
  fieldManager: string;
}): Drift | undefined {
  if (input.previous?.h !== input.desiredHash) return undefined;
  const paths = changedPaths(normalizeForDiff(input.live), normalizeForDiff(input.dryRun));
  if (paths.length === 0) return undefined;
  return {
    fields: paths.slice(0, MAX_DRIFT_FIELDS).map(renderPath),
    ...(paths.length > MAX_DRIFT_FIELDS ? { moreFields: paths.length - MAX_DRIFT_FIELDS } : {}),
    managers: changedBy(input.live, paths, input.fieldManager),
    action: input.mode === "report" ? "left as it is" : "corrected",
  };
}

/** One line for events and logs: `Deployment/ns/web: spec.replicas changed by kubectl-edit; corrected`. */
export function describeDrift(subject: string, drift: Drift): string {
  const fields = `${drift.fields.join(", ")}${drift.moreFields ? ` and ${drift.moreFields} more` : ""}`;
  const who =
    drift.managers.length > 0 ? drift.managers.map((m) => m.manager).join(", ") : "an unknown manager";
  return `${subject}: ${fields} changed by ${who}; ${drift.action}`;
}

const MAX_PATHS = 1000;

/** Paths where `live` and `desired` differ: leaves, or the whole value where types or list lengths differ. */
export function changedPaths(live: unknown, desired: unknown): Segment[][] {
  const out: Segment[][] = [];
  const walk = (a: unknown, b: unknown, at: Segment[]) => {
    if (out.length >= MAX_PATHS || jsonEqual(a, b)) return;
    if (isRecord(a) && isRecord(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) walk(a[key], b[key], [...at, key]);
    } else if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
      for (let i = 0; i < a.length; i++) walk(a[i], b[i], [...at, i]);
    } else {
      out.push(at);
    }
  };
  walk(live, desired, []);
  return out;
}

/** `spec.template.spec.containers[0].image`; keys that are not plain words are quoted: `annotations["a.b/c"]`. */
export function renderPath(path: Segment[]): string {
  let out = "";
  for (const s of path) {
    if (typeof s === "number") out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out || "(the whole object)";
}

/**
 * Who changed the fields at `paths`: every manager but the bot whose managedFields own one of them (the API
 * server moves ownership to whoever writes a field). A removed field has no owner any more; then the managers
 * that wrote the object after the bot's own last apply. Newest first.
 */
export function changedBy(live: KubernetesObject, paths: Segment[][], ours: string): DriftManager[] {
  const entries = ((live.metadata?.managedFields ?? []) as ManagedFieldsEntry[]).filter(
    (e) => typeof e.manager === "string" && !e.subresource,
  );
  const others = entries.filter((e) => e.manager !== ours);
  let found = others.filter((e) => ownsAny(e.fieldsV1, live, paths));
  if (found.length === 0) {
    const since = timeOf(entries.find((e) => e.manager === ours));
    found = others.filter((e) => !since || (timeOf(e) ?? "") >= since);
  }
  return found
    .map((e) => ({
      manager: e.manager as string,
      operation: typeof e.operation === "string" ? e.operation : "",
      ...(timeOf(e) ? { time: timeOf(e) } : {}),
    }))
    .sort((a, b) => (b.time ?? "").localeCompare(a.time ?? ""));
}

function timeOf(entry: ManagedFieldsEntry | undefined): string | undefined {
  const t = entry?.time;
  if (t instanceof Date) return Number.isNaN(t.getTime()) ? undefined : t.toISOString().replace(".000Z", "Z");
  return typeof t === "string" ? t : undefined;
}

/** Whether a managedFields `fieldsV1` set owns a field on one of `paths` (or below or above it). */
function ownsAny(fieldsV1: unknown, live: unknown, paths: Segment[][]): boolean {
  const leaves: Segment[][] = [];
  const nodes: Segment[][] = [];
  ownedPaths(fieldsV1, live, [], leaves, nodes, 0);
  const prefix = (short: Segment[], long: Segment[]) =>
    short.length <= long.length && short.every((s, i) => s === long[i]);
  return paths.some(
    (p) => leaves.some((q) => prefix(q, p) || prefix(p, q)) || nodes.some((n) => prefix(p, n)),
  );
}

/**
 * The paths a fieldsV1 set names, resolved against the live object: `f:name` a field, `k:{…}` the list item
 * with those key fields, `v:…` the set item with that value, `i:N` an index; `.` the node itself.
 */
function ownedPaths(
  fields: unknown,
  value: unknown,
  at: Segment[],
  leaves: Segment[][],
  nodes: Segment[][],
  depth: number,
): void {
  if (!isRecord(fields) || depth > 64) return;
  for (const [key, sub] of Object.entries(fields)) {
    if (key === ".") {
      nodes.push(at);
      continue;
    }
    const segment = segmentOf(key, value);
    if (segment === undefined) continue;
    const next = [...at, segment];
    const child =
      isRecord(value) || Array.isArray(value) ? (value as Record<Segment, unknown>)[segment] : undefined;
    if (isRecord(sub) && Object.keys(sub).length > 0) ownedPaths(sub, child, next, leaves, nodes, depth + 1);
    else leaves.push(next);
  }
}

function segmentOf(key: string, value: unknown): Segment | undefined {
  const rest = key.slice(2);
  if (key.startsWith("f:")) return rest;
  if (key.startsWith("i:")) return /^\d+$/.test(rest) ? Number(rest) : undefined;
  if (!Array.isArray(value)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(rest);
  } catch {
    return undefined;
  }
  let index = -1;
  if (key.startsWith("k:") && isRecord(parsed)) {
    const keys = Object.entries(parsed);
    index = value.findIndex((item) => isRecord(item) && keys.every(([k, v]) => jsonEqual(item[k], v)));
  } else if (key.startsWith("v:")) {
    index = value.findIndex((item) => jsonEqual(item, parsed));
  }
  return index >= 0 ? index : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
