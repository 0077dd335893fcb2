// Dry runs of objects whose Namespace or CustomResourceDefinition the same change creates. A dry run persists
// nothing, so a Deployment in a namespace that Kustomization `infra` would create is refused by the API server
// (`namespaces "apps" not found`) when Kustomization `apps` is previewed, and a custom object whose CRD is new
// has no endpoint at all. Such objects are previewed as "would create", checked as far as the API server allows:
// - in a new namespace: the dry run itself still decodes the object against the API server's schema (a wrong
//   type fails before the namespace is looked up); then a dry-run create of a copy in a namespace that exists
//   (the owning Kustomization's, else `default`) runs the API server's validation, and only its validation
//   answers (400, 422) count: what that namespace's RBAC, quotas or admission say is not about this object;
// - of a new kind: validated against the openAPIV3Schema of the version its CRD serves.
// Only an answer that names the missing namespace, or a kind the API server does not serve, takes this path:
// an object in a namespace that exists is dry-run as always, whatever the change declares.
import type { KubernetesObject } from "@kubernetes/client-node";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { apiMessage, apiStatus, type RawObjectApi } from "../kube-client.js";
import { ObjectError } from "./errors.js";
import { OWNER_NAMESPACE_LABEL } from "./inventory.js";
import { subjectOf } from "./object-id.js";

interface CrdVersion {
  name?: string;
  served?: boolean;
  schema?: { openAPIV3Schema?: Record<string, unknown> };
}

export type CustomResourceDefinition = KubernetesObject & {
  spec?: { group?: string; names?: { kind?: string }; scope?: string; versions?: CrdVersion[] };
};

/** The namespaces and custom kinds the whole change (every Kustomization of the plan) declares. */
export interface CreatedInChange {
  namespaces: ReadonlySet<string>;
  /** `group/Kind` → the CustomResourceDefinition that defines it. */
  kinds: ReadonlyMap<string, CustomResourceDefinition>;
}

export const NEW_NAMESPACE_REASON = (namespace: string) =>
  `its Namespace ${namespace} is created in the same change`;
export const NEW_KIND_REASON = "its CustomResourceDefinition is created in the same change";

export function isCustomResourceDefinition(obj: KubernetesObject): obj is CustomResourceDefinition {
  return (
    obj.kind === "CustomResourceDefinition" && (obj.apiVersion ?? "").startsWith("apiextensions.k8s.io/")
  );
}

/** `group/Kind` of an object (`/Kind` for the core group). */
export function kindKey(obj: KubernetesObject): string {
  const group = obj.apiVersion?.includes("/") ? obj.apiVersion.split("/")[0] : "";
  return `${group}/${obj.kind}`;
}

/** `group/Kind` that a CRD defines. */
export function definedKind(crd: CustomResourceDefinition): string {
  return `${crd.spec?.group}/${crd.spec?.names?.kind}`;
}

/** What a set of objects (all the change would apply) declares. */
export function definitionsInChange(objects: Iterable<KubernetesObject>): CreatedInChange {
  const namespaces = new Set<string>();
  const kinds = new Map<string, CustomResourceDefinition>();
  for (const o of objects) {
    if (o.kind === "Namespace" && o.apiVersion === "v1" && o.metadata?.name) namespaces.add(o.metadata.name);
    if (isCustomResourceDefinition(o)) kinds.set(definedKind(o), o);
  }
  return { namespaces, kinds };
}

/** A change's definitions and those of one apply's own objects (a Namespace and its objects in one build). */
export function withDefinitions(
  change: CreatedInChange | undefined,
  objects: KubernetesObject[],
): CreatedInChange {
  const own = definitionsInChange(objects);
  if (!change) return own;
  return {
    namespaces: new Set([...change.namespaces, ...own.namespaces]),
    kinds: new Map([...change.kinds, ...own.kinds]),
  };
}

/** The objects of every Kustomization of a plan that will be applied: not refused, built, not suspended. */
export function definitionsOfPlan(
  kustomizations: readonly {
    objects: KubernetesObject[];
    buildError?: string;
    refused?: string;
    ks: { spec: { suspend?: boolean } };
  }[],
): CreatedInChange {
  return definitionsInChange(
    kustomizations.filter((p) => !p.buildError && !p.refused && !p.ks.spec.suspend).flatMap((p) => p.objects),
  );
}

/** Whether a dry-run answer says the object's namespace is missing, and the change creates that namespace. */
export function missingNamespaceInChange(
  err: unknown,
  obj: KubernetesObject,
  change: CreatedInChange | undefined,
): string | undefined {
  const namespace = obj.metadata?.namespace;
  if (!change || !namespace || !change.namespaces.has(namespace) || apiStatus(err) !== 404) return undefined;
  return apiMessage(err).includes(`namespaces "${namespace}" not found`) ? namespace : undefined;
}

/**
 * The API server's validation of an object whose namespace does not exist yet: a dry-run create of a copy in a
 * namespace that does. Throws the API server's answer when it is about the object (invalid, bad request).
 */
export async function validateInExistingNamespace(api: RawObjectApi, obj: KubernetesObject): Promise<void> {
  const namespace = obj.metadata?.namespace ?? "";
  const standIn = obj.metadata?.labels?.[OWNER_NAMESPACE_LABEL] ?? "default";
  const { resourceVersion: _v, uid: _u, ...metadata } = obj.metadata ?? {};
  const copy = { ...obj, metadata: { ...metadata, namespace: standIn } };
  try {
    await api.create(copy, undefined, "All", "gitops-bot");
  } catch (err) {
    const status = apiStatus(err);
    if (status !== 400 && status !== 422) return;
    // The answer speaks of the stand-in: say the object's own namespace instead.
    const message = apiMessage(err).split(`"${standIn}"`).join(`"${namespace}"`);
    throw new ObjectError(
      subjectOf(obj),
      "dry-run",
      `${message} (checked by the API server; ${NEW_NAMESPACE_REASON(namespace)})`,
      status,
    );
  }
}

/** Custom kinds the change defines that the API server does not serve yet. */
export async function unservedKinds(
  api: RawObjectApi,
  change: CreatedInChange | undefined,
  objects: KubernetesObject[],
): Promise<Set<string>> {
  const out = new Set<string>();
  if (!change) return out;
  const asked = new Map<string, KubernetesObject>();
  for (const o of objects) if (change.kinds.has(kindKey(o))) asked.set(`${o.apiVersion}|${o.kind}`, o);
  for (const o of asked.values()) {
    const served = await api.isNamespaced(o.apiVersion ?? "", o.kind ?? "").catch(() => undefined);
    if (served === undefined) out.add(kindKey(o));
  }
  return out;
}

const validators = new WeakMap<Record<string, unknown>, ValidateFunction | null>();

/** The errors of a custom object against the schema its CRD (created in the same change) declares. */
export function schemaErrors(obj: KubernetesObject, crd: CustomResourceDefinition): string[] {
  const version = obj.apiVersion?.split("/")[1];
  const served = (crd.spec?.versions ?? []).find((v) => v.name === version);
  if (!served?.served) {
    const names = (crd.spec?.versions ?? []).filter((v) => v.served).map((v) => v.name);
    return [
      `apiVersion: version ${version} is not served by CustomResourceDefinition ${crd.metadata?.name} (served: ${names.join(", ") || "none"})`,
    ];
  }
  const schema = served.schema?.openAPIV3Schema;
  if (!schema) return [];
  const validate = validatorFor(schema);
  if (!validate) return [];
  // metadata, apiVersion and kind are the API server's to check, whatever the schema says of them.
  const {
    metadata: _m,
    apiVersion: _a,
    kind: _k,
    ...body
  } = obj as KubernetesObject & Record<string, unknown>;
  if (validate(body)) return [];
  return (validate.errors ?? []).slice(0, 5).map(describeSchemaError);
}

function validatorFor(schema: Record<string, unknown>): ValidateFunction | undefined {
  let known = validators.get(schema);
  if (known === undefined) {
    try {
      // Kubernetes' structural schemas are OpenAPI v3 with x-kubernetes-* extensions: unknown keywords and
      // formats are ignored (strict: false), unknown fields are pruned by the API server, never errors.
      const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
      known = ajv.compile(intOrString(withoutMetadata(schema)));
    } catch {
      // A schema ajv cannot read: the CRD's own dry run judges it; its objects are checked no further here.
      known = null;
    }
    validators.set(schema, known);
  }
  return known ?? undefined;
}

function withoutMetadata(schema: Record<string, unknown>): Record<string, unknown> {
  const { properties, required, ...rest } = schema as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  const { metadata: _m, apiVersion: _a, kind: _k, ...props } = properties ?? {};
  const kept = (required ?? []).filter((r) => !["metadata", "apiVersion", "kind"].includes(r));
  return {
    ...rest,
    ...(properties ? { properties: props } : {}),
    ...(kept.length ? { required: kept } : {}),
  };
}

/** `x-kubernetes-int-or-string: true` means an integer or a string, whatever `type` says. */
function intOrString(node: unknown): Record<string, unknown> {
  if (Array.isArray(node)) return node.map(intOrString) as unknown as Record<string, unknown>;
  if (!node || typeof node !== "object") return node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = v && typeof v === "object" ? intOrString(v) : v;
  if (out["x-kubernetes-int-or-string"] === true) {
    delete out.type;
    delete out.anyOf;
    out.type = ["integer", "string"];
  }
  return out;
}

function describeSchemaError(e: ErrorObject): string {
  const path = e.instancePath.split("/").filter(Boolean).join(".");
  const where =
    e.keyword === "required"
      ? [path, (e.params as { missingProperty?: string }).missingProperty].filter(Boolean).join(".")
      : path || "(object)";
  const what = e.keyword === "required" ? "is required" : (e.message ?? "is invalid");
  const allowed =
    e.keyword === "enum" ? ` (${(e.params as { allowedValues?: unknown[] }).allowedValues?.join(", ")})` : "";
  return `${where}: ${what}${allowed}`;
}

/** An error for a custom object that its new CRD's schema refuses, or undefined when it passes. */
export function pendingKindError(
  obj: KubernetesObject,
  change: CreatedInChange | undefined,
  sameApply: ReadonlyMap<string, CustomResourceDefinition>,
): ObjectError | undefined {
  const crd = sameApply.get(kindKey(obj)) ?? change?.kinds.get(kindKey(obj));
  if (!crd) return undefined;
  const errors = schemaErrors(obj, crd);
  if (errors.length === 0) return undefined;
  return new ObjectError(
    subjectOf(obj),
    "dry-run",
    `${errors.join("; ")} (schema of CustomResourceDefinition ${crd.metadata?.name}, created in the same change)`,
    422,
  );
}
