// ArtifactGenerator's `strategy: Merge`: a YAML file from a source merged into the file already in the
// artifact, as Helm merges `--values` files: mappings are merged key by key, recursively; anything else (lists,
// scalars) from the source replaces what was there. Both texts come from repositories: aliases are bounded,
// each must be one YAML mapping, and `__proto__`/`constructor`/`prototype` keys are refused (the merge builds
// plain objects).
import { parse, stringify } from "yaml";

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

type YamlMap = Record<string, unknown>;

function isMap(value: unknown): value is YamlMap {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function readMapping(text: string, which: string): YamlMap {
  let value: unknown;
  try {
    value = parse(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new Error(`the ${which} is not valid YAML: ${(err as Error).message.split("\n")[0]}`, {
      cause: err,
    });
  }
  if (value === null || value === undefined) return {};
  if (!isMap(value)) throw new Error(`the ${which} is not a YAML mapping`);
  return value;
}

/** `over` merged into `base`, Helm's way; returns a new object. */
export function mergeValues(base: YamlMap, over: YamlMap, path = ""): YamlMap {
  const out: YamlMap = {};
  for (const [key, value] of Object.entries(base)) out[key] = value;
  for (const [key, value] of Object.entries(over)) {
    const at = path ? `${path}.${key}` : key;
    if (FORBIDDEN_KEYS.has(key)) throw new Error(`key ${JSON.stringify(at)} is not allowed`);
    const current = out[key];
    out[key] = isMap(current) && isMap(value) ? mergeValues(current, value, at) : value;
  }
  return out;
}

/** The text of `destination` with `source` merged into it. */
export function mergeYamlFile(destination: string, source: string): string {
  const base = readMapping(destination, "file in the artifact");
  const over = readMapping(source, "source file");
  for (const key of Object.keys(base)) {
    if (FORBIDDEN_KEYS.has(key)) throw new Error(`key ${JSON.stringify(key)} is not allowed`);
  }
  return stringify(mergeValues(base, over));
}
