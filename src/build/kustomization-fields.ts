// The fields a kustomization file may have: exactly kustomize v5's (api/types/kustomization.go), as an
// allow-list. kustomize decodes with DisallowUnknownFields, so an unknown field fails there anyway; refusing it
// here first means a field a newer kustomize adds (which might name a file) is never read by kustomize before
// the reference check knows it. The objects of the lists that name files (generators, patches, replacements,
// openapi) are held to their own fields the same way. Values are also held to plain JSON: YAML tags such as
// `!!binary` decode differently in Go's YAML and ours, so a value that is not a string, number, boolean, null,
// list or mapping is refused, and the checked form is what kustomize gets (kustomize-references.ts rewrites it).
import { ManifestError, type ManifestLocation } from "../flux/errors.js";
import { quoted } from "../flux/names.js";
import { refuseForeignLineBreaks } from "./yaml-line-breaks.js";

const topLevel = new Set([
  "apiVersion",
  "kind",
  "metadata",
  "openapi",
  "namePrefix",
  "nameSuffix",
  "namespace",
  "commonLabels",
  "labels",
  "commonAnnotations",
  "patchesStrategicMerge",
  "patchesJson6902",
  "patches",
  "images",
  "imageTags",
  "replacements",
  "replicas",
  "vars",
  "sortOptions",
  "resources",
  "components",
  "crds",
  "bases",
  "configMapGenerator",
  "secretGenerator",
  "helmGlobals",
  "helmCharts",
  "helmChartInflationGenerator",
  "generatorOptions",
  "configurations",
  "generators",
  "transformers",
  "validators",
  "buildMetadata",
]);

const generatorArgs = ["name", "namespace", "behavior", "literals", "files", "envs", "env", "options"];

/** The fields of the entries of list fields whose entries may name files. */
const entryFields: Record<string, Set<string>> = {
  configMapGenerator: new Set(generatorArgs),
  secretGenerator: new Set([...generatorArgs, "type"]),
  patches: new Set(["path", "patch", "target", "options"]),
  patchesJson6902: new Set(["path", "patch", "target", "options"]),
  replacements: new Set(["path", "source", "targets"]),
};

/** Fields whose value is a list of strings, each a path (or, for some, inline YAML). */
export const stringListFields = [
  "resources",
  "bases",
  "components",
  "crds",
  "configurations",
  "generators",
  "transformers",
  "validators",
  "patchesStrategicMerge",
] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Throws at the first field of a kustomization document that kustomize v5 does not have, at the top level and
 * in the entries of the file-naming lists, and at the first file-naming entry that is not a string.
 */
export function assertKnownKustomizationFields(doc: Record<string, unknown>, where: ManifestLocation): void {
  const at = (field: string) => ({ ...where, field });
  for (const key of Object.keys(doc)) {
    if (!topLevel.has(key))
      throw new ManifestError(
        at(key),
        `${quoted(key)} is not a field of a kustomization (kustomize v5); it is refused before kustomize runs`,
      );
  }
  for (const field of stringListFields) {
    const list = doc[field];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw new ManifestError(at(field), "must be a list of strings");
    list.forEach((entry, i) => {
      if (typeof entry !== "string")
        throw new ManifestError(
          at(`${field}[${i}]`),
          "must be a string (a YAML tag or a number here is read differently by kustomize)",
        );
    });
  }
  for (const [field, allowed] of Object.entries(entryFields)) {
    const list = doc[field];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw new ManifestError(at(field), "must be a list");
    list.forEach((entry, i) => {
      if (!isRecord(entry)) throw new ManifestError(at(`${field}[${i}]`), "must be a mapping");
      for (const key of Object.keys(entry)) {
        if (!allowed.has(key))
          throw new ManifestError(at(`${field}[${i}].${key}`), `is not a field of ${field} entries`);
      }
      for (const key of ["path", "env"]) {
        if (entry[key] !== undefined && typeof entry[key] !== "string")
          throw new ManifestError(at(`${field}[${i}].${key}`), "must be a string");
      }
      for (const key of ["files", "envs"]) {
        const paths = entry[key];
        if (paths === undefined || paths === null) continue;
        if (!Array.isArray(paths) || paths.some((p) => typeof p !== "string"))
          throw new ManifestError(at(`${field}[${i}].${key}`), "must be a list of strings");
      }
    });
  }
  if (doc.openapi !== undefined) {
    if (!isRecord(doc.openapi)) throw new ManifestError(at("openapi"), "must be a mapping");
    for (const [key, value] of Object.entries(doc.openapi)) {
      if (key !== "path" && key !== "version")
        throw new ManifestError(at(`openapi.${key}`), "is not a field of openapi (path, version)");
      if (typeof value !== "string") throw new ManifestError(at(`openapi.${key}`), "must be a string");
    }
  }
}

/**
 * The value as JSON, refusing what is not plain JSON data (a `!!binary` buffer, a timestamp, a non-finite
 * number): kustomize gets exactly this text, so its YAML decoder has nothing to read differently.
 */
export function checkedJson(value: unknown, where: ManifestLocation): string {
  const walk = (v: unknown, path: string): void => {
    const field = where.field && path ? `${where.field}.${path}` : path || where.field;
    if (typeof v === "string") {
      // Written back for kustomize, a raw NEL / U+2028 / U+2029 / lone CR is a line break to Go's YAML (a
      // JSON escape in the original reads the same): a value kustomize reads otherwise than we checked it.
      refuseForeignLineBreaks(v, { ...where, ...(field ? { field } : {}) });
      return;
    }
    if (v === null || typeof v === "boolean") return;
    if (typeof v === "number") {
      if (!Number.isFinite(v))
        throw new ManifestError({ ...where, ...(field ? { field } : {}) }, "is not a finite number");
      return;
    }
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        walk(x, `${path}[${i}]`);
      });
      return;
    }
    if (isRecord(v) && Object.getPrototypeOf(v) === Object.prototype) {
      for (const [k, x] of Object.entries(v)) {
        refuseForeignLineBreaks(k, { ...where, ...(field ? { field } : {}) });
        walk(x, path ? `${path}.${k}` : k);
      }
      return;
    }
    throw new ManifestError(
      { ...where, ...(field ? { field } : {}) },
      "is not plain YAML data (a tag such as !!binary or !!timestamp); write the value out",
    );
  };
  walk(value, "");
  return JSON.stringify(value, null, 2);
}
