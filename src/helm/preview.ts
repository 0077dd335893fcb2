// What installing or upgrading a release would do, for dry-runs: the objects `helm template` rendered (with no
// cluster access), each put through the API server's own server-side dry-run with Helm's field manager, and
// compared with the live object — so the preview is validated and diffs against live state, Secrets masked.
//
// A preview only ever shows the live content of objects this release owns (Helm's ownership metadata): an
// object that exists but belongs to something else is reported as such, without a diff, and fails the
// preview as helm would fail the install ("exists and cannot be imported into the current release").
import type { KubernetesObject } from "@kubernetes/client-node";
import type { RawObjectApi } from "../cluster/kube-client.js";
import { objectDiff } from "../cluster/ssa/apply.js";
import type { Action, ChangeSetEntry } from "../cluster/ssa/changeset.js";
import { ObjectError } from "../cluster/ssa/errors.js";
import { jsonEqual, normalizeForDiff } from "../cluster/ssa/normalize.js";
import { groupOf, objectId, subjectOf } from "../cluster/ssa/object-id.js";
import { getLive } from "../cluster/ssa/read.js";
import { mapLimit } from "../reconcile/concurrency.js";
import { applyAsHelm, withHelmOwnership } from "./drift.js";

export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const RELEASE_NAME_ANNOTATION = "meta.helm.sh/release-name";
export const RELEASE_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace";
const RESOURCE_POLICY_ANNOTATION = "helm.sh/resource-policy";

export interface PreviewRequest {
  releaseName: string;
  releaseNamespace: string;
  /** The rendered release objects (hooks left out). */
  objects: KubernetesObject[];
  /** CRDs from the chart's `crds/` that helm would create (or, with CreateReplace, replace). */
  crds: KubernetesObject[];
  crdPolicy?: "Create" | "CreateReplace";
  /** The objects of the live release's manifest (empty for an install). */
  before: KubernetesObject[];
  /** install.createNamespace: the release namespace is created when missing. */
  createNamespace: boolean;
  withDiff: boolean;
  concurrency?: number;
}

export interface PreviewResult {
  entries: ChangeSetEntry[];
  /** Objects helm would refuse or the API server rejected; each message starts with the object's subject. */
  errors: string[];
}

interface Crdish extends KubernetesObject {
  spec?: { group?: string; names?: { kind?: string }; scope?: string; versions?: { name?: string }[] };
}

function kindKey(apiVersion: string | undefined, kind: string | undefined): string {
  return `${groupOf(apiVersion)}/${kind ?? ""}`;
}

/** Whether a live object carries Helm's ownership metadata for this release. */
export function ownedByRelease(
  live: KubernetesObject,
  releaseName: string,
  releaseNamespace: string,
): boolean {
  const labels = live.metadata?.labels ?? {};
  const annotations = live.metadata?.annotations ?? {};
  return (
    labels[MANAGED_BY_LABEL] === "Helm" &&
    annotations[RELEASE_NAME_ANNOTATION] === releaseName &&
    annotations[RELEASE_NAMESPACE_ANNOTATION] === releaseNamespace
  );
}

export async function previewRelease(api: RawObjectApi, req: PreviewRequest): Promise<PreviewResult> {
  const errors: string[] = [];
  const crdScopes = new Map<string, string>();
  for (const crd of [...req.crds, ...req.objects] as Crdish[]) {
    if (crd.kind === "CustomResourceDefinition") {
      crdScopes.set(`${crd.spec?.group}/${crd.spec?.names?.kind}`, crd.spec?.scope ?? "Namespaced");
    }
  }
  // Discovery answers, once per kind: the served scope (undefined: not served), else the scope its CRD declares.
  const servedScopes = new Map<string, Promise<boolean | undefined>>();
  const servedScope = (obj: KubernetesObject): Promise<boolean | undefined> => {
    const key = kindKey(obj.apiVersion, obj.kind);
    let scope = servedScopes.get(key);
    if (!scope) {
      scope = api.isNamespaced(obj.apiVersion ?? "", obj.kind ?? "");
      servedScopes.set(key, scope);
    }
    return scope;
  };
  const scopeOf = async (obj: KubernetesObject): Promise<boolean | undefined> => {
    const served = await servedScope(obj);
    if (served !== undefined) return served;
    const fromCrd = crdScopes.get(kindKey(obj.apiVersion, obj.kind));
    return fromCrd === undefined ? undefined : fromCrd === "Namespaced";
  };

  /** The object as helm would send it: the release namespace where it has none, Helm's ownership metadata. */
  const place = async (
    obj: KubernetesObject,
    owned: boolean,
    where: "rendered" | "live release",
  ): Promise<KubernetesObject | undefined> => {
    const scope = await scopeOf(obj);
    if (scope === undefined && where === "live release") {
      return withHelmOwnership(obj, req.releaseName, req.releaseNamespace);
    }
    if (scope === undefined) {
      errors.push(
        `${subjectOf(obj)}: the API server does not serve ${obj.apiVersion} ${obj.kind} and the chart defines no CustomResourceDefinition for it`,
      );
      return undefined;
    }
    let placed: KubernetesObject = { ...obj, metadata: { ...obj.metadata } };
    if (scope && !placed.metadata?.namespace) {
      placed.metadata = { ...placed.metadata, namespace: req.releaseNamespace };
    } else if (!scope && placed.metadata?.namespace) {
      const { namespace: _dropped, ...rest } = placed.metadata;
      placed.metadata = rest;
    }
    if (owned) placed = withHelmOwnership(placed, req.releaseName, req.releaseNamespace);
    return placed;
  };

  const objects = (await Promise.all(req.objects.map((o) => place(o, true, "rendered")))).filter(
    (o): o is KubernetesObject => o !== undefined,
  );
  const crds = (await Promise.all(req.crds.map((o) => place(o, false, "rendered")))).filter(
    (o): o is KubernetesObject => o !== undefined,
  );
  const before = (await Promise.all(req.before.map((o) => place(o, true, "live release")))).filter(
    (o): o is KubernetesObject => o !== undefined,
  );

  // Namespaces that do not exist yet: their objects cannot be validated by the server, only shown.
  const newNamespaces = new Set(
    objects.filter((o) => o.kind === "Namespace" && o.apiVersion === "v1").map((o) => o.metadata?.name ?? ""),
  );
  const namespaces = new Set(objects.map((o) => o.metadata?.namespace).filter((n): n is string => !!n));
  const missing = new Set<string>();
  for (const ns of namespaces) {
    if (newNamespaces.has(ns)) {
      missing.add(ns);
      continue;
    }
    // A tenant's identity may not read Namespaces: then the dry-run of its objects says what is wrong.
    const live = await getLive(api, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }).catch(
      () => true,
    );
    if (!live) missing.add(ns);
  }
  const entries: ChangeSetEntry[] = [];
  if (missing.has(req.releaseNamespace) && req.createNamespace && !newNamespaces.has(req.releaseNamespace)) {
    const nsObject = { apiVersion: "v1", kind: "Namespace", metadata: { name: req.releaseNamespace } };
    entries.push(
      entry(
        nsObject,
        "created",
        req.withDiff ? objectDiff(undefined, nsObject) : undefined,
        "install.createNamespace",
      ),
    );
  }

  // Kinds whose CRD this change creates: their objects cannot be dry-run before the CRD exists.
  const pendingKinds = new Set<string>();
  for (const crd of [...crds, ...objects] as Crdish[]) {
    if (crd.kind !== "CustomResourceDefinition") continue;
    const key = `${crd.spec?.group}/${crd.spec?.names?.kind}`;
    if (!(await isServedKind(api, crd))) pendingKinds.add(key);
  }

  const previewOne = async (
    obj: KubernetesObject,
    owned: boolean,
    crdPolicy?: string,
  ): Promise<ChangeSetEntry | undefined> => {
    const subject = subjectOf(obj);
    const ns = obj.metadata?.namespace;
    if (pendingKinds.has(kindKey(obj.apiVersion, obj.kind)) && (await servedScope(obj)) === undefined) {
      return entry(
        obj,
        "created",
        diffOf(undefined, obj),
        "its CustomResourceDefinition is created in the same change",
      );
    }
    if (ns && missing.has(ns)) {
      return entry(
        obj,
        "created",
        diffOf(undefined, obj),
        `namespace ${ns} does not exist yet; not validated by the API server`,
      );
    }
    try {
      const live = await getLive(api, obj);
      if (live && !owned) {
        // crds/: helm creates what is missing and (CreateReplace) replaces the rest; they carry no release.
        if (crdPolicy !== "CreateReplace")
          return entry(obj, "skipped", undefined, "exists; crds: Create keeps it as it is");
        const dry = await applyAsHelm(api, obj, true);
        const same = jsonEqual(normalizeForDiff(live), normalizeForDiff(dry));
        return entry(
          obj,
          same ? "unchanged" : "configured",
          undefined,
          same ? undefined : "crds: CreateReplace replaces it",
        );
      }
      if (live && !ownedByRelease(live, req.releaseName, req.releaseNamespace)) {
        errors.push(
          `${subject} exists and is not part of release ${req.releaseNamespace}/${req.releaseName}: helm would refuse to take it over`,
        );
        return entry(
          obj,
          "skipped",
          undefined,
          "exists, not managed by this release; would not be taken over",
        );
      }
      const dry = await applyAsHelm(api, obj, true);
      if (!live) return entry(obj, "created", diffOf(undefined, dry));
      if (jsonEqual(normalizeForDiff(live), normalizeForDiff(dry))) return entry(obj, "unchanged");
      return entry(obj, "configured", diffOf(live, dry));
    } catch (err) {
      errors.push((err instanceof ObjectError ? err : ObjectError.from(obj, "dry-run", err)).message);
      return undefined;
    }
  };
  const diffOf = (b: KubernetesObject | undefined, a: KubernetesObject) =>
    req.withDiff ? objectDiff(b, a) : undefined;

  const limit = req.concurrency ?? 8;
  const crdEntries = await mapLimit(crds, limit, (o) => previewOne(o, false, req.crdPolicy));
  const objectEntries = await mapLimit(objects, limit, (o) => previewOne(o, true));
  entries.push(...[...crdEntries, ...objectEntries].filter((e): e is ChangeSetEntry => e !== undefined));

  const rendered = new Set(objects.map(objectId));
  for (const old of before) {
    if (rendered.has(objectId(old))) continue;
    const keep = old.metadata?.annotations?.[RESOURCE_POLICY_ANNOTATION] === "keep";
    entries.push(
      keep
        ? entry(old, "skipped", undefined, `${RESOURCE_POLICY_ANNOTATION}: keep; left in the cluster`)
        : entry(old, "deleted"),
    );
  }
  return { entries, errors };
}

function entry(obj: KubernetesObject, action: Action, diff?: string, reason?: string): ChangeSetEntry {
  return {
    id: objectId(obj),
    subject: subjectOf(obj),
    apiVersion: obj.apiVersion ?? "",
    action,
    ...(reason ? { reason } : {}),
    ...(diff ? { diff } : {}),
  };
}

/** Whether the API server already serves a CRD's kind (any of its versions). */
async function isServedKind(api: RawObjectApi, crd: Crdish): Promise<boolean> {
  for (const v of crd.spec?.versions ?? []) {
    const scope = await api.isNamespaced(`${crd.spec?.group}/${v.name}`, crd.spec?.names?.kind ?? "");
    if (scope !== undefined) return true;
  }
  return false;
}
