// What the bot applied last time, per object: a hash of the desired manifest, and a hash of the live object
// right after — without its status, resourceVersion and the status subresource's managedFields entries. If
// both still match, neither Git nor anyone in the cluster changed the object's spec or metadata since, and the
// expensive dry-run apply can be skipped: a no-op reconcile costs one LIST per kind. Any write to spec or
// metadata (a kubectl edit, a label removed, another field manager) changes the live hash and sends the object
// through the full dry-run comparison again, so drift is never missed; status updates alone do not.
import { createHash } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";

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
}

export function liveHash(live: KubernetesObject): string {
  const { status: _status, ...rest } = live as KubernetesObject & { status?: unknown };
  const {
    resourceVersion: _rv,
    managedFields,
    ...metadata
  } = (rest.metadata ?? {}) as NonNullable<KubernetesObject["metadata"]> & {
    managedFields?: ManagedFieldsEntry[];
  };
  return hash({
    ...rest,
    metadata: { ...metadata, managedFields: managedFields?.filter((m) => m.subresource !== "status") },
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
