// A Flux object through its schema: `spec` by the kind's schema, and the object's own fields (a `spce:` typo is
// an unknown field like any other). The first problem becomes an error naming file, object and field in plain
// words (src/flux/spec-problem.ts).
import type { KubernetesObject } from "@kubernetes/client-node";
import { z } from "zod";
import { ManifestError } from "./errors.js";
import { describeProblem } from "./spec-problem.js";

/** The fields of any Flux object; metadata is checked by checkedMetadata, status is the controller's. */
function objectSchema<T>(spec: z.ZodType<T>) {
  return z.strictObject({
    apiVersion: z.string(),
    kind: z.string(),
    metadata: z.unknown().optional(),
    spec,
    status: z.unknown().optional(),
  });
}

const objectSchemas = new WeakMap<z.ZodType, z.ZodType>();

export function parseSpec<T>(schema: z.ZodType<T>, obj: KubernetesObject, file: string, subject: string): T {
  let whole = objectSchemas.get(schema) as ReturnType<typeof objectSchema<T>> | undefined;
  if (!whole) {
    whole = objectSchema(schema);
    objectSchemas.set(schema, whole);
  }
  const parsed = whole.safeParse(obj);
  if (!parsed.success) {
    const { field, reason } = describeProblem(whole, obj, parsed.error.issues);
    throw new ManifestError({ file, object: subject, ...(field ? { field } : {}) }, reason);
  }
  return parsed.data.spec as T;
}
