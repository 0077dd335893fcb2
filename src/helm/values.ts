// A HelmRelease's values, composed as helm-controller does: each `valuesFrom` entry in order (a whole YAML
// document merged in, or one value set at `targetPath`), then the inline `values` on top. The digest of the
// result decides whether an upgrade is needed. Values read from Secrets are remembered so views can mask them.
import { createHash } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import { parse } from "yaml";
import { apiMessage, apiStatus, type RawObjectApi } from "../cluster/kube-client.js";
import { ManifestError } from "../flux/errors.js";
import { type FluxHelmRelease, helmReleaseKey } from "../flux/helm-release.js";

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

// Values come from the repository and from ConfigMaps anyone with access to a namespace can write. Every map
// built here has no prototype, so a key like `__proto__` is an ordinary key (as it is for helm) and can never
// reach Object.prototype of the long-running server; paths refuse the names that only mean something to JS.
const FORBIDDEN_SEGMENTS = new Set(["__proto__", "prototype", "constructor"]);
/** Helm's own bound on a list index in `--set` paths (strvals MaxIndex). */
export const MAX_LIST_INDEX = 65_536;

function emptyMap(): Values {
  return Object.create(null) as Values;
}

/** The value under an own key only: never something inherited from a prototype. */
export function ownValue(container: unknown, key: string | number): unknown {
  if (container === null || typeof container !== "object") return undefined;
  return Object.hasOwn(container, key) ? (container as Record<string | number, unknown>)[key] : undefined;
}

/** A deep copy whose maps have no prototype. */
export function safeCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(safeCopy);
  if (!isMap(value)) return value;
  const out = emptyMap();
  for (const key of Object.keys(value)) out[key] = safeCopy(value[key]);
  return out;
}

/** Helm's value merge: maps merge key by key, anything else in `over` replaces what `base` had. */
export function mergeValues(base: Values, over: Values): Values {
  const out = emptyMap();
  for (const key of Object.keys(base)) out[key] = safeCopy(base[key]);
  for (const key of Object.keys(over)) {
    const value = over[key];
    const current = out[key];
    out[key] = isMap(current) && isMap(value) ? mergeValues(current, value) : safeCopy(value);
  }
  return out;
}

export class ValuesPathError extends Error {
  override name = "ValuesPathError";
}

/** The segments of a dotted path (`a.b.c`, `list[0].name`); refuses JS-only names and huge indexes. */
export function parseValuesPath(path: string): (string | number)[] {
  return path.split(".").flatMap((part) => {
    const m = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) throw new ValuesPathError(`"${path}" is not a dotted path`);
    const key = m[1] as string;
    if (FORBIDDEN_SEGMENTS.has(key)) {
      throw new ValuesPathError(`"${path}": the segment "${key}" is not allowed in a values path`);
    }
    const indexes = [...(m[2] ?? "").matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
    const tooLarge = indexes.find((i) => !Number.isSafeInteger(i) || i > MAX_LIST_INDEX);
    if (tooLarge !== undefined) {
      throw new ValuesPathError(`"${path}": list index ${tooLarge} is larger than ${MAX_LIST_INDEX}`);
    }
    return [key, ...indexes];
  });
}

/** Sets `value` at a dotted path (`a.b.c`, `list[0].name`), creating maps and lists on the way. */
export function setAtPath(values: Values, path: string, value: unknown): Values {
  const segments = parseValuesPath(path);
  const out = safeCopy(values) as Values;
  let cursor: Values | unknown[] = out;
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    const next = segments[i + 1];
    const container = cursor as Record<string | number, unknown>;
    if (last) {
      container[segment] = value;
      return;
    }
    const existing = ownValue(container, segment);
    const wantList = typeof next === "number";
    if (wantList ? !Array.isArray(existing) : !isMap(existing))
      container[segment] = wantList ? [] : emptyMap();
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
  // A number in a Secret is as secret as a string (a PIN, a port-like password): helm prints it as text.
  else if (typeof value === "number" || typeof value === "bigint") into.push(String(value));
  else if (Array.isArray(value)) for (const v of value) collectStrings(v, into);
  else if (isMap(value)) for (const key of Object.keys(value)) collectStrings(value[key], into);
}

export async function composeValues(
  api: RawObjectApi,
  hr: FluxHelmRelease,
  opts: { readSecrets?: boolean } = {},
): Promise<ComposedValues> {
  let values: Values = emptyMap();
  const secretStrings: string[] = [];
  const secretPaths: string[][] = [];
  const object = helmReleaseKey(hr);
  for (const [i, ref] of (hr.spec.valuesFrom ?? []).entries()) {
    const field = `spec.valuesFrom[${i}]`;
    const fail = (reason: string, at = field) =>
      new ManifestError({ file: hr.file, object, field: at }, reason);
    const subject = `${ref.kind}/${hr.namespace}/${ref.name}`;
    // The path is checked before anything is read: a refused path never costs a Secret read.
    let segments: (string | number)[] | undefined;
    if (ref.targetPath !== undefined) {
      try {
        segments = parseValuesPath(ref.targetPath);
      } catch (err) {
        throw fail((err as Error).message, `${field}.targetPath`);
      }
    }
    if (ref.kind === "Secret" && opts.readSecrets === false) {
      if (ref.optional) continue;
      throw fail(`${subject} is not read for changes from outside the repository (a fork's pull request)`);
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
      throw fail(`${subject}: ${apiStatus(err) === 404 ? "not found" : apiMessage(err)}`);
    }
    const key = ref.valuesKey ?? "values.yaml";
    const raw = ownValue(obj.data, key);
    if (typeof raw !== "string") {
      if (ref.optional) continue;
      throw fail(`${subject} has no key "${key}"`);
    }
    const text = ref.kind === "Secret" ? Buffer.from(raw, "base64").toString("utf8") : raw;
    if (ref.targetPath !== undefined && segments) {
      values = setAtPath(values, ref.targetPath, text);
      if (ref.kind === "Secret") {
        secretStrings.push(text);
        secretPaths.push(segments.map(String));
      }
      continue;
    }
    let doc: unknown;
    try {
      doc = parse(text, { maxAliasCount: 100 }) ?? {};
    } catch (err) {
      // The YAML parser quotes the offending text; for a Secret that could be the secret itself.
      const why = ref.kind === "Secret" ? "invalid YAML" : `invalid YAML: ${(err as Error).message}`;
      throw fail(`${subject} key "${key}": ${why}`);
    }
    if (!isMap(doc)) throw fail(`${subject} key "${key}" is not a YAML mapping`);
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
    for (const segment of path) cursor = ownValue(cursor, Array.isArray(cursor) ? Number(segment) : segment);
    collectStrings(cursor, out);
  }
  return out;
}
