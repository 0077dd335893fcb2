// A HelmRelease's values, composed as helm-controller does: each `valuesFrom` entry in order (a whole YAML
// document merged in, or one value set at `targetPath`), then the inline `values` on top. The digest of the
// result decides whether an upgrade is needed. Values read from Secrets are remembered so views can mask them.
import { createHash } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import { parse } from "yaml";
import { apiMessage, apiStatus, type RawObjectApi } from "../cluster/kube-client.js";
import type { FluxHelmRelease } from "../flux/helm-release.js";

export type Values = Record<string, unknown>;

export interface ComposedValues {
  values: Values;
  /** `sha256:<hex>` of the values in canonical JSON (sorted keys). */
  digest: string;
  /** Every string read from a Secret, to be masked in diffs and messages. */
  secretStrings: string[];
  /** Where in the values Secret content went (dotted paths; "" for a whole merged document's keys). */
  secretPaths: string[][];
}

function isMap(v: unknown): v is Values {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Helm's value merge: maps merge key by key, anything else in `over` replaces what `base` had. */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isMap(current) && isMap(value) ? mergeValues(current, value) : value;
  }
  return out;
}

/** Sets `value` at a dotted path (`a.b.c`, `list[0].name`), creating maps and lists on the way. */
export function setAtPath(values: Values, path: string, value: unknown): Values {
  const out = structuredClone(values);
  const segments = path.split(".").flatMap((part) => {
    const m = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) throw new Error(`"${path}" is not a dotted path`);
    const indexes = [...(m[2] ?? "").matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
    return [m[1] as string, ...indexes];
  });
  let cursor: Values | unknown[] = out;
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    const next = segments[i + 1];
    const container = cursor as Record<string | number, unknown>;
    if (last) {
      container[segment] = value;
      return;
    }
    const existing = container[segment];
    const wantList = typeof next === "number";
    if (wantList ? !Array.isArray(existing) : !isMap(existing)) container[segment] = wantList ? [] : {};
    cursor = container[segment] as Values | unknown[];
  });
  return out;
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isMap(value)) {
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

export function valuesDigest(values: Values): string {
  return `sha256:${createHash("sha256").update(canonicalJson(values)).digest("hex")}`;
}

function collectStrings(value: unknown, into: string[]): void {
  if (typeof value === "string") into.push(value);
  else if (Array.isArray(value)) for (const v of value) collectStrings(v, into);
  else if (isMap(value)) for (const v of Object.values(value)) collectStrings(v, into);
}

export async function composeValues(
  api: RawObjectApi,
  hr: FluxHelmRelease,
  opts: { readSecrets?: boolean } = {},
): Promise<ComposedValues> {
  let values: Values = {};
  const secretStrings: string[] = [];
  const secretPaths: string[][] = [];
  for (const [i, ref] of (hr.spec.valuesFrom ?? []).entries()) {
    const field = `spec.valuesFrom[${i}]`;
    const subject = `${ref.kind}/${hr.namespace}/${ref.name}`;
    if (ref.kind === "Secret" && opts.readSecrets === false) {
      if (ref.optional) continue;
      throw new Error(
        `${field}: ${subject} is not read for changes from outside the repository (a fork's pull request)`,
      );
    }
    let obj: KubernetesObject & { data?: Record<string, string> };
    try {
      obj = await api.read({
        apiVersion: "v1",
        kind: ref.kind,
        metadata: { name: ref.name, namespace: hr.namespace },
      });
    } catch (err) {
      if (apiStatus(err) === 404 && ref.optional) continue;
      throw new Error(`${field}: ${subject}: ${apiStatus(err) === 404 ? "not found" : apiMessage(err)}`);
    }
    const key = ref.valuesKey ?? "values.yaml";
    const raw = obj.data?.[key];
    if (raw === undefined) {
      if (ref.optional) continue;
      throw new Error(`${field}: ${subject} has no key "${key}"`);
    }
    const text = ref.kind === "Secret" ? Buffer.from(raw, "base64").toString("utf8") : raw;
    if (ref.targetPath) {
      values = setAtPath(values, ref.targetPath, text);
      if (ref.kind === "Secret") {
        secretStrings.push(text);
        secretPaths.push(ref.targetPath.split(/[.[\]]+/).filter(Boolean));
      }
      continue;
    }
    let doc: unknown;
    try {
      doc = parse(text, { maxAliasCount: 100 }) ?? {};
    } catch (err) {
      // The YAML parser quotes the offending text; for a Secret that could be the secret itself.
      const why = ref.kind === "Secret" ? "invalid YAML" : `invalid YAML: ${(err as Error).message}`;
      throw new Error(`${field}: ${subject} key "${key}": ${why}`);
    }
    if (!isMap(doc)) throw new Error(`${field}: ${subject} key "${key}" is not a YAML mapping`);
    if (ref.kind === "Secret") {
      collectStrings(doc, secretStrings);
      for (const key of Object.keys(doc)) secretPaths.push([key]);
    }
    values = mergeValues(values, doc);
  }
  values = mergeValues(values, (hr.spec.values ?? {}) as Values);
  return { values, digest: valuesDigest(values), secretStrings, secretPaths };
}

/** The strings found at `paths` in other values (e.g. the live release's): old secrets, to be masked too. */
export function stringsAtPaths(values: Values, paths: string[][]): string[] {
  const out: string[] = [];
  for (const path of paths) {
    let cursor: unknown = values;
    for (const segment of path) {
      cursor =
        cursor && typeof cursor === "object" ? (cursor as Record<string, unknown>)[segment] : undefined;
    }
    collectStrings(cursor, out);
  }
  return out;
}
