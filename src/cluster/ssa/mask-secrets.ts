// Secret values never leave the engine: every diff, log line and comment sees masks. Like Flux's diff, a key
// whose value changed shows "*** (before)" / "*** (after)", so reviewers still see *that* it changed.
import type { KubernetesObject } from "@kubernetes/client-node";
import { SECRET_MASK, scrubSecrets } from "../../util/secret-scrub.js";

export const MASK = SECRET_MASK;

export function isSecret(obj: KubernetesObject | undefined): boolean {
  return obj?.kind === "Secret" && (obj.apiVersion === "v1" || obj.apiVersion === undefined);
}

type SecretLike = KubernetesObject & { data?: Record<string, string>; stringData?: Record<string, string> };

/** Masks one Secret on its own (for created or deleted objects, logs). */
export function maskSecret<T extends KubernetesObject>(obj: T): T {
  if (!isSecret(obj)) return obj;
  const copy = structuredClone(obj) as SecretLike;
  for (const field of ["data", "stringData"] as const) {
    const values = copy[field];
    if (values) for (const key of Object.keys(values)) values[key] = MASK;
  }
  maskLastApplied(copy);
  return copy as unknown as T;
}

/** Masks a before/after pair so that changed keys are told apart from unchanged ones. */
export function maskSecretPair<T extends KubernetesObject>(before: T, after: T): [T, T] {
  if (!isSecret(before) && !isSecret(after)) return [before, after];
  const b = structuredClone(before) as SecretLike;
  const a = structuredClone(after) as SecretLike;
  for (const field of ["data", "stringData"] as const) {
    const bv = b[field] ?? {};
    const av = a[field] ?? {};
    for (const key of new Set([...Object.keys(bv), ...Object.keys(av)])) {
      const changed = bv[key] !== av[key];
      if (key in bv) bv[key] = changed ? `${MASK} (before)` : MASK;
      if (key in av) av[key] = changed ? `${MASK} (after)` : MASK;
    }
  }
  maskLastApplied(b);
  maskLastApplied(a);
  return [b as unknown as T, a as unknown as T];
}

// kubectl's client-side apply copies the whole Secret, values included, into an annotation.
function maskLastApplied(obj: SecretLike): void {
  const annotations = obj.metadata?.annotations;
  const key = "kubectl.kubernetes.io/last-applied-configuration";
  if (annotations?.[key]) annotations[key] = MASK;
}

/**
 * The values the given Secrets hold (decoded `data`, `stringData`): what must not appear in text that leaves the
 * engine, in any encoding. Other kinds are skipped.
 */
export function secretValuesOf(objects: Iterable<KubernetesObject | undefined>): string[] {
  const values = new Set<string>();
  for (const obj of objects) {
    if (!obj || !isSecret(obj)) continue;
    const secret = obj as SecretLike;
    for (const encoded of Object.values(secret.data ?? {})) {
      if (typeof encoded !== "string") continue;
      values.add(encoded);
      values.add(Buffer.from(encoded, "base64").toString("utf8"));
    }
    for (const value of Object.values(secret.stringData ?? {}))
      if (typeof value === "string") values.add(value);
  }
  return [...values];
}

/**
 * Masks, in free text (an API error, helm's stderr, a diff of another object), every value of the given
 * Secrets and any `extra` secret values, in all the forms util/secret-scrub knows.
 */
export function maskSecretValuesInText(
  text: string,
  secrets: Iterable<KubernetesObject | undefined>,
  extra: Iterable<string> = [],
): string {
  return scrubSecrets(text, [...secretValuesOf(secrets), ...extra]);
}
