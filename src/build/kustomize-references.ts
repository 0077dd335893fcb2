// What a kustomize build may reach, checked before kustomize runs: every kustomization file reachable from the
// build root is read, and each path it names is either local and inside the tree, or refused. kustomize itself
// fetches URLs and clones git repositories named in resources, generators, patches, …, and loads directories
// (bases, components) from anywhere on disk; a repository must not make the bot do either. Plugin
// configurations (generators, transformers, validators: files or inline) are read too (kustomize-plugins.ts):
// their file fields follow the same rules. Helm chart inflation is refused entirely: it runs helm and fetches
// charts outside every other bound. Every YAML file kustomize will parse that this check reaches (resources,
// patches, plugin configurations) is parsed here first with an alias bound, so a "billion laughs" file is
// refused with its name instead of growing kustomize to gigabytes.
//
// kustomize then runs without its load restrictor, as Flux's kustomize-controller does inside the source root,
// so this check is the wall: (1) every field of a kustomization is on kustomize's own list
// (kustomization-fields.ts) and spelt exactly (kustomize-spelling.ts); (2) each kustomization file and plugin
// configuration this check read is rewritten, in the private work tree, into the JSON it checked — kustomize
// parses our text, not the repository's, so no YAML feature Go reads differently (`!!binary`, YAML 1.1
// scalars, merge keys) can name a path the check did not see; (3) a string kustomize may read either as inline
// YAML or as a file name (generators, transformers, patchesStrategicMerge, PatchStrategicMergeTransformer
// paths: kustomize falls back to a file when the text is not objects) is checked both ways. Builds run only in
// private copies (prepareWorkTree), which is what makes the rewrite safe.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { parse as parseYaml } from "yaml";
import { ManifestError, type ManifestLocation } from "../flux/errors.js";
import { quoted } from "../flux/names.js";
import {
  assertBoundedYaml,
  boundedAliasTokens,
  maxYamlAliasCount,
  parseBoundedDocuments as parseDocuments,
} from "../flux/yaml-alias-bound.js";
import { isInside } from "../util/path-inside.js";
import { assertKnownKustomizationFields, checkedJson } from "./kustomization-fields.js";
import { isInlineYaml, PluginConfigProblem, readPluginConfig } from "./kustomize-plugins.js";
import { assertExactSpelling } from "./kustomize-spelling.js";
import { refuseForeignLineBreaks } from "./yaml-line-breaks.js";
import { readUtf8Yaml } from "./yaml-text.js";

export const kustomizationFileNames = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

export interface ReferenceCheckOptions {
  /** The tree every local reference must stay inside (the work tree). */
  root: string;
  /** Allow http(s)/git references (operator `security.remoteKustomizeResources`; never for forks). */
  allowRemoteResources: boolean;
  /** Largest kustomization or generator file read, in bytes. */
  maxFileBytes: number;
  /** When remote references are allowed, each one found (kustomize fetches them: the caller checks their hosts). */
  remote?: Array<{ value: string; where: ManifestLocation }>;
}

const SWITCH =
  "remote kustomize resources are off (operator setting security.remoteKustomizeResources; CLI flag --allow-remote-resources)";

/**
 * Whether kustomize would fetch a reference instead of reading it from the tree: an http(s) URL (files), or what
 * its repository-URL parser accepts (git clones) — ssh://, https://, http://, file://, a `git::` prefix, a
 * `user@` prefix (git's scp form), a `github.com/` or `github.com:` prefix. Also refused, though kustomize v5
 * reads them as local: a `?ref=`-style query and the gitlab.com / bitbucket.org / `gh:` shorthands.
 */
export function isRemoteReference(value: string): boolean {
  return (
    /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(value) ||
    /^(git::|gh:)/i.test(value) ||
    /^[a-zA-Z][a-zA-Z0-9-]*@/.test(value) ||
    value.includes("?") ||
    /^(github\.com|gitlab\.com|bitbucket\.org)[/:]/i.test(value)
  );
}

/** Fields whose entries are paths (files or directories) relative to the kustomization's directory. */
const pathListFields = ["resources", "bases", "components", "crds", "configurations"] as const;
/** Fields whose entries are kustomizations of their own when they are directories. */
const directoryFields = new Set<string>(["resources", "bases", "components"]);
/** Fields whose entries are plugin configurations: files, or YAML written inline. */
const pluginFields = ["generators", "transformers", "validators"] as const;
/** Fields that inflate Helm charts (kustomize runs helm for them). */
const helmFields = ["helmCharts", "helmGlobals", "helmChartInflationGenerator"] as const;

interface Reference {
  field: string;
  value: string;
  /** A directory here is a kustomization to follow. */
  followsDirectory: boolean;
  /** A file here is a generator/transformer configuration to look into. */
  pluginConfig: boolean;
  /** kustomize parses the file as YAML: it gets the size and alias bounds. */
  yaml: boolean;
}

interface KustomizationContent {
  references: Reference[];
  /** YAML written inline that kustomize parses: plugin configurations and patches. */
  inline: { field: string; text: string; plugin: boolean; list?: string; index?: number }[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every path-like reference a kustomization file makes, with the field it is in, and its inline YAML. */
function contentOf(doc: Record<string, unknown>): KustomizationContent {
  const out: Reference[] = [];
  const inline: KustomizationContent["inline"] = [];
  const add = (field: string, value: unknown, flags: Partial<Omit<Reference, "field" | "value">> = {}) => {
    if (typeof value === "string") {
      out.push({ field, value, followsDirectory: false, pluginConfig: false, yaml: false, ...flags });
    }
  };
  for (const field of pathListFields) {
    const list = doc[field];
    if (!Array.isArray(list)) continue;
    list.forEach((entry, i) => {
      add(`${field}[${i}]`, entry, { followsDirectory: directoryFields.has(field), yaml: true });
    });
  }
  for (const field of pluginFields) {
    const list = doc[field];
    if (!Array.isArray(list)) continue;
    list.forEach((entry, i) => {
      if (typeof entry !== "string") return; // kustomize accepts only strings here, and fails on others
      // kustomize reads an entry as inline objects first (several lines, a flow mapping on one line), else a path
      if (isInlineYaml(entry))
        inline.push({ field: `${field}[${i}]`, text: entry, plugin: true, list: field, index: i });
      else add(`${field}[${i}]`, entry, { pluginConfig: true });
    });
  }
  const objectList = (field: string, key: string, inlineKey?: string) => {
    const list = doc[field];
    if (!Array.isArray(list)) return;
    list.forEach((entry, i) => {
      if (!isRecord(entry)) return;
      add(`${field}[${i}].${key}`, entry[key], { yaml: true });
      if (inlineKey && typeof entry[inlineKey] === "string") {
        inline.push({ field: `${field}[${i}].${inlineKey}`, text: entry[inlineKey], plugin: false });
      }
    });
  };
  objectList("patches", "path", "patch");
  objectList("patchesJson6902", "path", "patch");
  objectList("replacements", "path");
  const strategic = doc.patchesStrategicMerge;
  if (Array.isArray(strategic)) {
    strategic.forEach((entry, i) => {
      if (typeof entry !== "string") return;
      if (isInlineYaml(entry))
        inline.push({ field: `patchesStrategicMerge[${i}]`, text: entry, plugin: false });
      else add(`patchesStrategicMerge[${i}]`, entry, { yaml: true });
    });
  }
  if (isRecord(doc.openapi)) add("openapi.path", doc.openapi.path, { yaml: true });
  for (const generator of ["configMapGenerator", "secretGenerator"]) {
    const list = doc[generator];
    if (!Array.isArray(list)) continue;
    list.forEach((entry, i) => {
      if (!isRecord(entry)) return;
      const files = Array.isArray(entry.files) ? entry.files : [];
      files.forEach((f, j) => {
        // `key=path` or `path`
        if (typeof f === "string")
          add(`${generator}[${i}].files[${j}]`, f.includes("=") ? f.slice(f.indexOf("=") + 1) : f);
      });
      const envs = Array.isArray(entry.envs) ? entry.envs : [];
      envs.forEach((e, j) => {
        add(`${generator}[${i}].envs[${j}]`, e);
      });
      add(`${generator}[${i}].env`, entry.env);
    });
  }
  return { references: out, inline };
}

function kustomizationFileIn(dir: string): string | undefined {
  for (const name of kustomizationFileNames) {
    const file = join(dir, name);
    if (existsSync(file)) return file;
  }
  return undefined;
}

function assertSize(file: string, shown: string, opts: ReferenceCheckOptions): void {
  const size = statSync(file).size;
  if (size > opts.maxFileBytes) {
    throw new ManifestError({ file: shown }, `is ${size} bytes, over the ${opts.maxFileBytes}-byte limit`);
  }
}

function readYaml(file: string, shown: string, opts: ReferenceCheckOptions): unknown {
  assertSize(file, shown, opts);
  try {
    const text = readUtf8Yaml(file, { file: shown });
    refuseForeignLineBreaks(text, { file: shown });
    return parseYaml(text, { maxAliasCount: maxYamlAliasCount });
  } catch (err) {
    if (err instanceof ManifestError) throw err;
    throw new ManifestError({ file: shown }, `invalid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
}

// The alias bound lives in flux/ (below build/ and helm/, which both hand repository YAML to kustomize).
export { assertBoundedYaml, boundedAliasTokens, maxYamlAliasCount };

/**
 * Checks the kustomization in each of `dirs` and everything it reaches, throwing a ManifestError that names the
 * file and field of the first reference that is remote (unless allowed), leaves the root, inflates a chart, is
 * a plugin other than kustomize's built-in ones, or is YAML whose aliases expand too far.
 */
export function assertBuildReferences(dirs: string[], opts: ReferenceCheckOptions): void {
  const realRoot = realpathSync(opts.root);
  const shown = (abs: string) => relative(realRoot, abs).split(sep).join("/") || ".";
  const visited = new Set<string>();

  /**
   * A local or remote path named by `where`, relative to the kustomization in `dir`: refused when remote (unless
   * allowed) or out of the tree; returns the real target when it exists.
   */
  const checkPath = (dir: string, value: string, where: ManifestLocation): string | undefined => {
    if (isRemoteReference(value) && !onlyLocalFile(dir, value)) {
      // file:// would clone a repository from the bot's own disk, whatever the operator allowed.
      if (/^\s*(git::)?file:/i.test(value))
        throw new ManifestError(
          where,
          `${quoted(value)} is a remote reference to the bot's own disk (file://); never allowed, whatever security.remoteKustomizeResources says`,
        );
      if (opts.allowRemoteResources) {
        opts.remote?.push({ value, where });
        return undefined;
      }
      throw new ManifestError(where, `${quoted(value)} is a remote reference; ${SWITCH}`);
    }
    const why = localReferenceProblem(realRoot, dir, value);
    if (why) throw new ManifestError(where, `${quoted(value)} ${why}`);
    return realOrUndefined(resolve(dir, value)); // missing: kustomize says so in its own words
  };

  const checkYamlFile = (target: string) => {
    assertSize(target, shown(target), opts);
    assertBoundedYaml(readUtf8Yaml(target, { file: shown(target) }), { file: shown(target) });
  };

  /**
   * The plugin configurations in `docs` (from a file, or inline at `where`), named by the kustomization in `dir`
   * under `from`. Their paths are relative to that kustomization, as kustomize's loader reads them.
   */
  const checkPluginDocs = (docs: unknown[], dir: string, where: ManifestLocation, from: string) => {
    const prefix = where.field ? `${where.field}.` : "";
    const at = (field: string, object?: string): ManifestLocation => ({
      file: where.file,
      ...(object ? { object } : {}),
      field: `${prefix}${field}`,
    });
    for (const doc of docs) {
      if (doc === null || doc === undefined) continue;
      assertExactSpelling(
        doc,
        { file: where.file, ...(where.field ? { field: where.field } : {}) },
        where.field ?? "",
      );
      let config: ReturnType<typeof readPluginConfig>;
      try {
        config = readPluginConfig(doc, from);
      } catch (err) {
        if (!(err instanceof PluginConfigProblem)) throw err;
        throw new ManifestError(at(err.field, err.object), err.reason, { cause: err });
      }
      for (const path of config.paths) {
        const target = checkPath(dir, path.value, at(path.field, config.object));
        if (target && path.yaml && statSync(target).isFile()) checkYamlFile(target);
      }
      for (const text of config.inlineYaml) {
        assertBoundedYaml(text.text, at(text.field, config.object));
        if (text.alsoPath) checkAsPath(dir, text.text, at(text.field, config.object));
      }
      if (opts.allowRemoteResources) {
        for (const url of config.urls)
          opts.remote?.push({ value: url.value, where: at(url.field, config.object) });
        continue;
      }
      const [url] = config.urls;
      if (url) {
        throw new ManifestError(
          at(url.field, config.object),
          `${quoted(url.value)} looks like a URL, which kustomize would fetch; ${SWITCH}`,
        );
      }
    }
  };

  /**
   * A text kustomize reads as YAML first and, when that is not objects, as a file name: as a file name it must
   * stay inside the tree too.
   */
  const checkAsPath = (dir: string, text: string, where: ManifestLocation) => {
    const why = localReferenceProblem(realRoot, dir, text);
    if (why)
      throw new ManifestError(
        where,
        `${quoted(text.length > 80 ? `${text.slice(0, 80)}…` : text)}, read as a file name (as kustomize does when the text is not objects), ${why}`,
      );
  };

  /** `dir` is a real path (no symlinks) inside the root. */
  const visit = (dir: string) => {
    if (visited.has(dir)) return;
    visited.add(dir);
    const found = kustomizationFileIn(dir);
    if (!found) return;
    const file = realOrUndefined(found);
    if (!file || !isInside(realRoot, file)) {
      throw new ManifestError({ file: shown(found) }, "leads outside the tree through a symlink");
    }
    const doc = readYaml(file, shown(found), opts);
    if (!isRecord(doc)) {
      // Empty to us: kustomize gets the empty checked text too, never the file as it was.
      if (doc === null || doc === undefined) return writeChecked(file, "{}\n");
      throw new ManifestError({ file: shown(found) }, "is not a kustomization (a YAML mapping)");
    }
    assertExactSpelling(doc, { file: shown(found) });
    assertKnownKustomizationFields(doc, { file: shown(found) });
    // Every value as it was written (inline texts are replaced below): plain data, no line break only
    // kustomize's YAML reader would see (a JSON escape of NEL reads the same as a raw one).
    checkedJson(doc, { file: shown(found) });
    const where = (field: string) => ({ file: shown(found), field });
    for (const field of helmFields) {
      if (doc[field] !== undefined) {
        throw new ManifestError(
          where(field),
          "Helm chart inflation in kustomize is not supported; use a HelmRelease",
        );
      }
    }
    const { references, inline } = contentOf(doc);
    const checked = structuredClone(doc);
    for (const text of inline) {
      const docs = parseDocuments(text.text, where(text.field));
      // patches[].patch is always inline; the others fall back to a file name
      if (text.plugin || text.field.startsWith("patchesStrategicMerge["))
        checkAsPath(dir, text.text, where(text.field));
      if (!text.plugin) continue;
      checkPluginDocs(docs, dir, where(text.field), text.field);
      // kustomize gets the configuration as the JSON checked here (a mapping on one line is inline for it).
      const list = checked[text.list ?? ""];
      if (Array.isArray(list) && text.index !== undefined)
        list[text.index] = docs
          .map((d) => JSON.stringify(JSON.parse(checkedJson(d, where(text.field)))))
          .join("\n---\n");
    }
    for (const ref of references) {
      if (
        ref.pluginConfig &&
        opts.allowRemoteResources &&
        isRemoteReference(ref.value) &&
        !onlyLocalFile(dir, ref.value)
      ) {
        // kustomize would load the configuration with this kustomization's loader, which runs without the
        // load restrictor: its file fields could name any file, and it cannot be read here first. (Remote
        // bases are safe: kustomize confines each clone to itself whatever the restrictor.)
        throw new ManifestError(
          where(ref.field),
          `${quoted(ref.value)}: a plugin configuration from a URL cannot be checked before kustomize runs; keep it in the repository`,
        );
      }
      const target = checkPath(dir, ref.value, where(ref.field));
      if (!target) continue;
      const isDirectory = statSync(target).isDirectory();
      if (isDirectory && ref.pluginConfig) {
        // A kustomization whose output is plugin configurations: what it renders (patched, replaced,
        // prefixed) cannot be read before kustomize runs.
        throw new ManifestError(
          where(ref.field),
          `${quoted(ref.value)} is a directory; list the plugin configuration files themselves`,
        );
      }
      if (isDirectory && ref.followsDirectory) visit(target);
      else if (isDirectory) continue;
      else if (ref.pluginConfig) {
        assertSize(target, shown(target), opts);
        const docs = parseDocuments(
          refuseForeignLineBreaks(readUtf8Yaml(target, { file: shown(target) }), { file: shown(target) }),
          { file: shown(target) },
        );
        checkPluginDocs(docs, dir, { file: shown(target) }, ref.field);
        writeChecked(target, `${docs.map((d) => checkedJson(d, { file: shown(target) })).join("\n---\n")}\n`);
      } else if (ref.yaml) checkYamlFile(target);
    }
    writeChecked(file, `${checkedJson(checked, { file: shown(found) })}\n`);
  };
  for (const dir of dirs) {
    const real = realOrUndefined(dir);
    if (!real) continue;
    if (!isInside(realRoot, real)) {
      throw new ManifestError({ file: shown(dir) }, "the build root is outside the tree");
    }
    visit(real);
  }
}

/**
 * Replaces `file` with the checked text, atomically (another build in the same work tree may be reading it:
 * bases are shared), and not at all when it already is that text.
 */
function writeChecked(file: string, text: string): void {
  if (readFileSync(file, "utf8") === text) return;
  const temporary = join(dirname(file), `.gitops-bot-checked-${randomBytes(6).toString("hex")}`);
  writeFileSync(temporary, text, { flag: "wx" });
  renameSync(temporary, file);
}

/**
 * kustomize reads a file before it tries anything else, except for http(s) URLs: `app@v1.yaml` that exists in
 * the tree is a local file, not git's scp form.
 */
function isLocalFile(dir: string, value: string): boolean {
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(value) || isAbsolute(value)) return false;
  const real = realOrUndefined(resolve(dir, value));
  return real !== undefined && statSync(real).isFile();
}

/**
 * A local file that kustomize can only ever read as that file: its name is no repository URL kustomize's
 * parser could fall back to when the file does not load as resources (no colon, no query, no `git::`, `gh:`
 * or known host prefix) — `app@v1.yaml`. A file named `git::file:///…` or `github.com/…` shadows nothing: it
 * is checked as the remote reference kustomize would fetch after failing to read it.
 */
function onlyLocalFile(dir: string, value: string): boolean {
  if (/[:?]/.test(value) || /^(git::|gh:|github\.com|gitlab\.com|bitbucket\.org)/i.test(value)) return false;
  return isLocalFile(dir, value);
}

function realOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** Why a local reference from the kustomization in `dir` is refused: absolute, NUL, or leading out of the root. */
function localReferenceProblem(realRoot: string, dir: string, value: string): string | undefined {
  if (value.includes("\0")) return "is not a valid path (contains NUL)";
  if (isAbsolute(value)) return "is an absolute path; references must be relative and inside the tree";
  const target = resolve(dir, value);
  if (!isInside(realRoot, target)) return "leads outside the tree";
  const real = realOrUndefined(target);
  if (real && !isInside(realRoot, real)) return "leads outside the tree through a symlink";
  return undefined;
}
