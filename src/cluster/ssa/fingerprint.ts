// What the bot applied last time, per object: a hash of the desired manifest, and a hash of the live object
// right after — without its status, resourceVersion and the status subresource's managedFields entries. If
// both still match, neither Git nor anyone in the cluster changed the object's spec or metadata since, and the
// expensive dry-run apply can be skipped: a no-op reconcile costs one LIST per kind. Any write to spec or
// metadata (a kubectl edit, a label removed, another field manager) changes the live hash and sends the object
// through the full dry-run comparison again, so drift is never missed; status updates alone do not, and neither
// does a controller's bookkeeping annotation (CONTROLLER_ANNOTATIONS).
import { createHash } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import { FIELD_MANAGER } from "./apply-defaults.js";

export interface Fingerprint {
  /** Hash of the desired object as applied. */
  h: string;
  /** Hash of the live object after the apply, status and bookkeeping left out. */
  l: string;
}

/** JSON with object keys sorted: a LIST item and a PATCH response of the same object hash alike. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function hash(value: unknown): string {
  return createHash("sha256").update(canonical(value)).digest("hex").slice(0, 20);
}

export function desiredHash(obj: KubernetesObject): string {
  return hash(obj);
}

interface ManagedFieldsEntry {
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}

/**
 * Annotations a Kubernetes controller writes into objects of a kind after they were applied, as bookkeeping of its
 * own (the deployment controller's rollout revision). Left in the hash, every Deployment applied went through a
 * second dry-run and inventory write on the next reconcile, once the controller had annotated it. Ignored only
 * while the bot does not apply them itself: a Git manifest that sets one makes it the bot's field (its own
 * managedFields entry claims it), and a change by anyone else is drift like any other.
 */
export const CONTROLLER_ANNOTATIONS: ReadonlyArray<{ apiVersion: string; kind: string; key: string }> = [
  { apiVersion: "apps/v1", kind: "Deployment", key: "deployment.kubernetes.io/revision" },
];

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}

function annotationClaims(entry: ManagedFieldsEntry): Record<string, unknown> | undefined {
  const metadata = entry.fieldsV1?.["f:metadata"] as Record<string, unknown> | undefined;
  return metadata?.["f:annotations"] as Record<string, unknown> | undefined;
}

/** The controller annotations of this object the bot does not apply: the ones its hash leaves out. */
function ignoredAnnotations(live: KubernetesObject, entries: ManagedFieldsEntry[] | undefined): string[] {
  return CONTROLLER_ANNOTATIONS.filter((c) => c.apiVersion === live.apiVersion && c.kind === live.kind)
    .map((c) => c.key)
    .filter(
      (key) =>
        !(entries ?? []).some(
          (m) => m.manager === FIELD_MANAGER && `f:${key}` in (annotationClaims(m) ?? {}),
        ),
    );
}

function withoutAnnotations(
  annotations: Record<string, string> | undefined,
  ignored: string[],
): Record<string, string> | undefined {
  if (!annotations || !ignored.some((k) => k in annotations)) return annotations;
  const kept = Object.fromEntries(Object.entries(annotations).filter(([k]) => !ignored.includes(k)));
  return Object.keys(kept).length > 0 ? kept : undefined;
}

/** A managedFields entry without its claim on those annotations; undefined when it claimed nothing else. */
function withoutClaims(entry: ManagedFieldsEntry, ignored: string[]): ManagedFieldsEntry | undefined {
  const claims = annotationClaims(entry);
  if (!claims || !ignored.some((k) => `f:${k}` in claims)) return entry;
  const keptAnnotations = Object.fromEntries(
    Object.entries(claims).filter(([k]) => !ignored.includes(k.slice(2))),
  );
  const { "f:annotations": _a, ...restMetadata } = (entry.fieldsV1?.["f:metadata"] ?? {}) as Record<
    string,
    unknown
  >;
  const keptMetadata =
    Object.keys(keptAnnotations).length > 0
      ? { ...restMetadata, "f:annotations": keptAnnotations }
      : restMetadata;
  const { "f:metadata": _m, ...restFields } = (entry.fieldsV1 ?? {}) as Record<string, unknown>;
  const fieldsV1 =
    Object.keys(keptMetadata).length > 0 ? { ...restFields, "f:metadata": keptMetadata } : restFields;
  // Nothing else claimed: the entry (and the time it carries) is that bookkeeping only.
  return Object.keys(fieldsV1).length > 0 ? { ...entry, fieldsV1 } : undefined;
}

export function liveHash(live: KubernetesObject): string {
  const { status: _status, ...rest } = live as KubernetesObject & { status?: unknown };
  const {
    resourceVersion: _rv,
    managedFields,
    annotations,
    ...metadata
  } = (rest.metadata ?? {}) as NonNullable<KubernetesObject["metadata"]> & {
    managedFields?: ManagedFieldsEntry[];
  };
  const ignored = ignoredAnnotations(live, managedFields);
  return hash({
    ...rest,
    metadata: {
      ...metadata,
      annotations: withoutAnnotations(annotations, ignored),
      managedFields: managedFields?.flatMap((m) => {
        if (m.subresource === "status") return [];
        const kept = withoutClaims(m, ignored);
        return kept ? [kept] : [];
      }),
    },
  });
}

export function unchangedSince(
  previous: Fingerprint | undefined,
  desired: string,
  live: KubernetesObject | undefined,
): boolean {
  return (
    previous !== undefined && live !== undefined && previous.h === desired && previous.l === liveHash(live)
  );
}
