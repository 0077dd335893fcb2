// What a person reviewing a change wants to see of an object: its desired content, without the fields the API
// server manages (managedFields, resourceVersion, status, ...), which would turn every diff into noise.
import type { KubernetesObject } from "@kubernetes/client-node";

const serverManagedMetadata = [
  "managedFields",
  "resourceVersion",
  "uid",
  "creationTimestamp",
  "generation",
  "selfLink",
];
const noisyAnnotations = [
  "kubectl.kubernetes.io/last-applied-configuration",
  "deployment.kubernetes.io/revision",
];

export function normalizeForDiff(obj: KubernetesObject): KubernetesObject {
  const copy = structuredClone(obj) as KubernetesObject & { status?: unknown };
  delete copy.status;
  const meta = copy.metadata as Record<string, unknown> | undefined;
  if (meta) {
    for (const key of serverManagedMetadata) delete meta[key];
    const annotations = meta.annotations as Record<string, string> | undefined;
    if (annotations) {
      for (const key of noisyAnnotations) delete annotations[key];
      if (Object.keys(annotations).length === 0) delete meta.annotations;
    }
  }
  return copy;
}

/** Deep equality of JSON values, ignoring key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => jsonEqual(ao[k], bo[k]));
}
