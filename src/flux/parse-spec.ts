// A Flux object's `spec` through its schema; the first issue becomes an error naming file, object and field.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { z } from "zod";
import { ManifestError } from "./errors.js";

export function parseSpec<T>(schema: z.ZodType<T>, obj: KubernetesObject, file: string, subject: string): T {
  const parsed = schema.safeParse((obj as { spec?: unknown }).spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = ["spec", ...(issue?.path ?? []).map(String)].join(".");
    throw new ManifestError({ file, object: subject, field }, issue?.message ?? "invalid");
  }
  return parsed.data;
}
