// A Helm release manifest (what `helm get manifest` prints and a dry-run renders) as objects, and the
// object-level difference between two of them: the rendered-manifest diff a pull request shows.
import type { KubernetesObject } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { objectDiff } from "../cluster/ssa/apply.js";
import type { ChangeSetEntry } from "../cluster/ssa/changeset.js";
import { jsonEqual, normalizeForDiff } from "../cluster/ssa/normalize.js";
import { objectId, subjectOf } from "../cluster/ssa/object-id.js";

// Kinds a chart commonly renders that have no namespace; the rest get the release namespace, as helm does.
const clusterScoped = new Set([
  "Namespace",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "PersistentVolume",
  "StorageClass",
  "PriorityClass",
  "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration",
  "APIService",
  "IngressClass",
  "RuntimeClass",
  "CSIDriver",
  "Node",
]);

export function parseManifest(text: string): KubernetesObject[] {
  const out: KubernetesObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors[0]) throw new Error(`rendered manifest is not valid YAML: ${doc.errors[0].message}`);
    const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
    if (!value || typeof value !== "object" || Array.isArray(value)) continue;
    const obj = value as KubernetesObject;
    if (obj.kind === "List" && Array.isArray((obj as { items?: unknown }).items)) {
      out.push(...(obj as { items: KubernetesObject[] }).items);
    } else if (obj.apiVersion && obj.kind) {
      out.push(obj);
    }
  }
  return out;
}

export function withReleaseNamespace(obj: KubernetesObject, namespace: string): KubernetesObject {
  if (obj.metadata?.namespace || clusterScoped.has(obj.kind ?? "")) return obj;
  return { ...obj, metadata: { ...obj.metadata, namespace } };
}

/** Object changes from manifest `before` to manifest `after` (created, configured with a diff, deleted). */
export function manifestChanges(
  before: string,
  after: string,
  namespace: string,
  withDiff: boolean,
): ChangeSetEntry[] {
  const index = (text: string) =>
    new Map(
      parseManifest(text)
        .map((o) => withReleaseNamespace(o, namespace))
        .map((o) => [objectId(o), o]),
    );
  const a = index(before);
  const b = index(after);
  const entries: ChangeSetEntry[] = [];
  const entry = (o: KubernetesObject, action: ChangeSetEntry["action"], diff?: string): ChangeSetEntry => ({
    id: objectId(o),
    subject: subjectOf(o),
    apiVersion: o.apiVersion ?? "",
    action,
    ...(withDiff && diff ? { diff } : {}),
  });
  for (const [id, o] of b) {
    const old = a.get(id);
    if (!old) entries.push(entry(o, "created", objectDiff(undefined, o)));
    else if (jsonEqual(normalizeForDiff(old), normalizeForDiff(o))) entries.push(entry(o, "unchanged"));
    else entries.push(entry(o, "configured", objectDiff(old, o)));
  }
  for (const [id, o] of a) if (!b.has(id)) entries.push(entry(o, "deleted"));
  return entries;
}
