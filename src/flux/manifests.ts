// Reading Kubernetes/Flux YAML safely: bounded file sizes, object counts and alias expansion, so a hostile
// repository cannot exhaust the bot, and errors that name the file and document.
import { readFileSync, statSync } from "node:fs";
import type { KubernetesObject } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { ManifestError } from "./errors.js";

export interface ManifestLimits {
  /** Largest YAML file read, in bytes. */
  maxFileBytes: number;
  /** Most objects one build may produce. */
  maxObjects: number;
  /** Most alias expansions per document (YAML "billion laughs"). */
  maxAliasCount: number;
}

export function defaultManifestLimits(): ManifestLimits {
  return { maxFileBytes: 8 * 1024 * 1024, maxObjects: 20_000, maxAliasCount: 100 };
}

export interface SourcedObject {
  object: KubernetesObject;
  /** Repository-relative file the object came from (for built output: the Kustomization's path). */
  file: string;
}

/** Parses a multi-document YAML text into objects; empty documents are skipped. */
export function parseManifests(
  text: string,
  file: string,
  limits: ManifestLimits = defaultManifestLimits(),
): SourcedObject[] {
  if (Buffer.byteLength(text) > limits.maxFileBytes) {
    throw new ManifestError({ file }, `file is larger than the ${limits.maxFileBytes}-byte limit`);
  }
  const out: SourcedObject[] = [];
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  if (!Array.isArray(docs)) {
    // An empty stream parses to an EmptyStream; nothing to read.
    return out;
  }
  docs.forEach((doc, index) => {
    const docLabel = docs.length > 1 ? ` (document ${index + 1})` : "";
    const first = doc.errors[0];
    if (first) {
      const line = first.linePos?.[0] ? ` at line ${first.linePos[0].line}` : "";
      throw new ManifestError({ file }, `invalid YAML${docLabel}${line}: ${first.message.split("\n")[0]}`);
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: limits.maxAliasCount });
    } catch (err) {
      throw new ManifestError({ file }, `invalid YAML${docLabel}: ${(err as Error).message}`);
    }
    if (value === null || value === undefined) return;
    if (typeof value !== "object" || Array.isArray(value)) {
      throw new ManifestError(
        { file },
        `document${docLabel} is not a Kubernetes object (expected a mapping)`,
      );
    }
    const obj = value as KubernetesObject;
    if (obj.kind === "List" && Array.isArray((obj as { items?: unknown }).items)) {
      for (const item of (obj as { items: KubernetesObject[] }).items) out.push({ object: item, file });
    } else {
      if (!obj.apiVersion || !obj.kind) {
        throw new ManifestError(
          { file },
          `document${docLabel} has no ${obj.apiVersion ? "kind" : "apiVersion"}`,
        );
      }
      out.push({ object: obj, file });
    }
    if (out.length > limits.maxObjects) {
      throw new ManifestError({ file }, `more than ${limits.maxObjects} objects`);
    }
  });
  return out;
}

export function readManifestFile(
  abs: string,
  file: string,
  limits: ManifestLimits = defaultManifestLimits(),
): SourcedObject[] {
  if (statSync(abs).size > limits.maxFileBytes) {
    throw new ManifestError({ file }, `file is larger than the ${limits.maxFileBytes}-byte limit`);
  }
  return parseManifests(readFileSync(abs, "utf8"), file, limits);
}

export function isYamlFile(name: string): boolean {
  return name.endsWith(".yaml") || name.endsWith(".yml");
}
