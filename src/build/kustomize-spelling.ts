// kustomize decodes kustomization files and plugin configurations with Go's encoding/json (through
// sigs.k8s.io/yaml), which matches field names regardless of case — with Unicode folding, so `ſ` is `s` and the
// Kelvin sign `K` is `k` — and whose YAML layer expands `<<` merge keys. The reference checker reads the same
// files with a YAML parser that does neither, so `Resources:`, `ConfigMapGenerator[].Files` or a `<<` mapping
// would name paths the checker never sees. Such spellings are refused outright: a key that folds to one of
// kustomize's path-bearing field names must be spelled exactly, and no mapping may use a merge key.
import { ManifestError, type ManifestLocation } from "../flux/errors.js";
import { quoted } from "../flux/names.js";

const PATH_FIELDS = [
  "resources",
  "bases",
  "components",
  "crds",
  "configurations",
  "generators",
  "transformers",
  "validators",
  "patches",
  "patchesJson6902",
  "patchesStrategicMerge",
  "replacements",
  "openapi",
  "configMapGenerator",
  "secretGenerator",
  "helmCharts",
  "helmGlobals",
  "helmChartInflationGenerator",
  "files",
  "envs",
  "env",
  "path",
  "paths",
  "valuesFile",
  "additionalValuesFiles",
  "chartHome",
  "configHome",
  "fieldSpecs",
  "sortOptions",
  "buildMetadata",
];

/** Go's simple case folding, close enough for ASCII field names: ſ → s, K (Kelvin) → k, any case → lower. */
export function fold(key: string): string {
  return key.toUpperCase().toLowerCase();
}

const byFold = new Map(PATH_FIELDS.map((f) => [fold(f), f]));

/** Throws at the first key kustomize would read as a field the checker does not see. */
export function assertExactSpelling(value: unknown, where: ManifestLocation, path = ""): void {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) assertExactSpelling(v, where, `${path}[${i}]`);
    return;
  }
  if (!value || typeof value !== "object") return;
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const at = path ? `${path}.${key}` : key;
    if (key === "<<") {
      throw new ManifestError(
        { ...where, field: at },
        "YAML merge keys (<<) are not allowed in kustomization files: write the fields out",
      );
    }
    const known = byFold.get(fold(key));
    if (known !== undefined && known !== key) {
      throw new ManifestError(
        { ...where, field: at },
        `${quoted(key)} is spelled differently from kustomize's field ${known}; kustomize would read it, so write ${known}`,
      );
    }
    assertExactSpelling(child, where, at);
  }
}
