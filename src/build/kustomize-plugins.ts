// kustomize's built-in plugin configurations (the documents that `generators:`, `transformers:` and `validators:`
// name, as files or inline strings), read before kustomize runs. kustomize's loader fetches an http(s) path in
// any of them whatever the load restrictor says, so every field that names a file is returned for the same
// local/remote/containment rules as a kustomization's own references (kustomize-references.ts). Only the
// built-in kinds below are accepted: anything else would be an exec or KRM function plugin (off in the bot) or a
// kind whose fields we do not know. As a backstop, every other URL-looking string in a configuration is
// reported too, outside the fields that are data (literals, annotations, inline patches).
import { isMap, isSeq, parseAllDocuments } from "yaml";
import { quoted } from "../flux/names.js";

/** A field of a plugin configuration that kustomize loads as a file (or fetches, when it is a URL). */
export interface PluginPath {
  /** Where it is in the configuration (`files[0]`, `replacements[1].path`). */
  field: string;
  value: string;
  /** kustomize parses the file as YAML (a patch, replacements), so it gets the YAML bounds too. */
  yaml: boolean;
}

/** What kustomize will read for one plugin configuration document. */
export interface PluginConfig {
  /** `Kind/name`, for errors. */
  object: string;
  kind: string;
  paths: PluginPath[];
  /** Inline YAML kustomize parses (patches given as strings), for the YAML bounds. */
  inlineYaml: { field: string; text: string; alsoPath?: boolean }[];
  /** URL-looking strings anywhere outside the data fields: refused unless remote resources are allowed. */
  urls: { field: string; value: string }[];
}

/** A configuration that is refused outright; `field` is inside the configuration. */
export class PluginConfigProblem extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
    readonly object?: string,
  ) {
    super(reason);
    this.name = "PluginConfigProblem";
  }
}

interface KindRules {
  /** Fields that name files. */
  paths?: (doc: Record<string, unknown>, out: PluginConfig) => void;
  /** Top-level fields that are data, never loaded: not searched for URLs. */
  data?: string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const stringList = (value: unknown): [number, string][] =>
  Array.isArray(value)
    ? value.flatMap((v, i): [number, string][] => (typeof v === "string" ? [[i, v]] : []))
    : [];

/** ConfigMapGenerator/SecretGenerator: `files` (`key=path` or `path`), `envs`, `env`. */
function generatorPaths(doc: Record<string, unknown>, out: PluginConfig): void {
  for (const [i, f] of stringList(doc.files)) {
    out.paths.push({
      field: `files[${i}]`,
      value: f.includes("=") ? f.slice(f.indexOf("=") + 1) : f,
      yaml: false,
    });
  }
  for (const [i, e] of stringList(doc.envs)) out.paths.push({ field: `envs[${i}]`, value: e, yaml: false });
  if (typeof doc.env === "string") out.paths.push({ field: "env", value: doc.env, yaml: false });
}

function singlePath(doc: Record<string, unknown>, out: PluginConfig): void {
  if (typeof doc.path === "string") out.paths.push({ field: "path", value: doc.path, yaml: true });
}

const inlineField = (name: string) => (doc: Record<string, unknown>, out: PluginConfig) => {
  if (typeof doc[name] === "string") out.inlineYaml.push({ field: name, text: doc[name] as string });
};

/** kustomize's built-in plugins (kustomize v5 api/builtins), with the fields each one loads. */
const builtinKinds: Record<string, KindRules> = {
  AnnotationsTransformer: { data: ["annotations"] },
  ConfigMapGenerator: { paths: generatorPaths, data: ["literals", "options"] },
  SecretGenerator: { paths: generatorPaths, data: ["literals", "options"] },
  HashTransformer: {},
  IAMPolicyGenerator: {},
  ImageTagTransformer: {},
  LabelTransformer: { data: ["labels"] },
  NamespaceTransformer: {},
  PatchTransformer: {
    paths: (doc, out) => {
      singlePath(doc, out);
      inlineField("patch")(doc, out);
    },
    data: ["patch"],
  },
  PatchJson6902Transformer: {
    paths: (doc, out) => {
      singlePath(doc, out);
      inlineField("jsonOp")(doc, out);
    },
    data: ["jsonOp"],
  },
  PatchStrategicMergeTransformer: {
    // Each of `paths` is a file, or (kustomize tries this first) a patch written inline.
    paths: (doc, out) => {
      for (const [i, p] of stringList(doc.paths)) {
        // kustomize reads a text that is not objects as a file name: checked as both
        if (isInlineYaml(p)) out.inlineYaml.push({ field: `paths[${i}]`, text: p, alsoPath: true });
        else out.paths.push({ field: `paths[${i}]`, value: p, yaml: true });
      }
      inlineField("patches")(doc, out);
    },
    data: ["patches"],
  },
  PrefixTransformer: {},
  SuffixTransformer: {},
  ReplacementTransformer: {
    paths: (doc, out) => {
      if (!Array.isArray(doc.replacements)) return;
      doc.replacements.forEach((r, i) => {
        if (isRecord(r) && typeof r.path === "string") {
          out.paths.push({ field: `replacements[${i}].path`, value: r.path, yaml: true });
        }
      });
    },
  },
  ReplicaCountTransformer: {},
  SortOrderTransformer: {},
  ValueAddTransformer: { data: ["value"] },
};

/**
 * Whether a `generators:`/`transformers:` entry (or a PatchStrategicMergeTransformer path) is YAML written
 * inline rather than a path: kustomize tries to read it as objects first. A mapping or a sequence is inline; so
 * is anything with a line break, and a flow collection or `key: value` text that does not parse (kustomize's
 * parser might accept what ours does not: refused as inline rather than let through as a path).
 */
export function isInlineYaml(value: string): boolean {
  if (value.includes("\n") || value.includes("\r")) return true;
  const docs = parseAllDocuments(value);
  const list = Array.isArray(docs) ? docs : [];
  if (list.some((d) => d.errors.length > 0)) return /^\s*[[{]|:\s|^\s*-\s/.test(value);
  return list.some((d) => isMap(d.contents) || isSeq(d.contents));
}

/** kustomize's loader fetches these (http(s)), or its repository parser clones them (git forms). */
export function looksLikeUrl(value: string): boolean {
  const v = value.includes("=") ? value.slice(value.indexOf("=") + 1) : value;
  return (
    /[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(value) ||
    /^\s*(git::|gh:|git@)/i.test(v) ||
    /^\s*(github\.com|gitlab\.com|bitbucket\.org)[/:]/i.test(v)
  );
}

function collectUrls(value: unknown, field: string, out: PluginConfig["urls"]): void {
  if (typeof value === "string") {
    if (looksLikeUrl(value)) out.push({ field, value });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => {
      collectUrls(v, `${field}[${i}]`, out);
    });
  } else if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) collectUrls(v, field ? `${field}.${k}` : k, out);
  }
}

/**
 * Reads one plugin configuration document (already parsed). `from` is the kustomization field that named it
 * (`generators[0]`), for errors. Throws PluginConfigProblem for what is refused whatever the operator allows.
 */
export function readPluginConfig(doc: unknown, from: string): PluginConfig {
  if (!isRecord(doc)) {
    throw new PluginConfigProblem("", `(from ${from}) is not a plugin configuration (a YAML mapping)`);
  }
  const kind = typeof doc.kind === "string" ? doc.kind : "";
  const metadata = isRecord(doc.metadata) ? doc.metadata : {};
  const object = `${kind || "?"}/${typeof metadata.name === "string" ? metadata.name : "?"}`;
  if (doc.apiVersion !== "builtin") {
    throw new PluginConfigProblem(
      "apiVersion",
      `${quoted(String(doc.apiVersion ?? ""))} (from ${from}): only kustomize's built-in plugins (apiVersion: builtin) are supported; exec and KRM function plugins are off`,
      object,
    );
  }
  if (kind === "HelmChartInflationGenerator") {
    throw new PluginConfigProblem(
      "kind",
      `HelmChartInflationGenerator (from ${from}) is not supported; use a HelmRelease`,
    );
  }
  const rules = Object.hasOwn(builtinKinds, kind) ? builtinKinds[kind] : undefined;
  if (!rules) {
    throw new PluginConfigProblem(
      "kind",
      `${quoted(kind)} (from ${from}) is not one of kustomize's built-in plugins`,
      object,
    );
  }
  const out: PluginConfig = { object, kind, paths: [], inlineYaml: [], urls: [] };
  rules.paths?.(doc, out);
  const data = new Set(["metadata", ...(rules.data ?? [])]);
  const inlinePaths = new Set(out.inlineYaml.map((y) => y.field));
  for (const [key, value] of Object.entries(doc)) {
    if (data.has(key)) continue;
    if (Array.isArray(value) && key === "paths") {
      // inline patches among PatchStrategicMergeTransformer's paths are data
      value.forEach((v, i) => {
        if (!inlinePaths.has(`paths[${i}]`)) collectUrls(v, `paths[${i}]`, out.urls);
      });
      continue;
    }
    collectUrls(value, key, out.urls);
  }
  return out;
}
