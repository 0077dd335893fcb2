// What a kustomize build may reach, checked before kustomize runs: every kustomization file reachable from the
// build root is read, and each path it names is either local and inside the tree, or refused. kustomize itself
// fetches URLs and clones git repositories named in resources, generators, patches, …, and loads directories
// (bases, components) from anywhere on disk; a repository must not make the bot do either. Helm chart inflation
// is refused entirely: it runs helm and fetches charts outside every other bound.
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { parse as parseYaml } from "yaml";
import { ManifestError } from "../flux/errors.js";
import { quoted } from "../flux/names.js";

export const kustomizationFileNames = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

export interface ReferenceCheckOptions {
  /** The tree every local reference must stay inside (the work tree). */
  root: string;
  /** Allow http(s)/git references (operator `security.remoteKustomizeResources`; never for forks). */
  allowRemoteResources: boolean;
  /** Largest kustomization or generator file read, in bytes. */
  maxFileBytes: number;
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
const pathListFields = [
  "resources",
  "bases",
  "components",
  "crds",
  "configurations",
  "generators",
  "transformers",
  "validators",
] as const;
/** Fields whose entries are kustomizations of their own when they are directories. */
const directoryFields = new Set<string>([
  "resources",
  "bases",
  "components",
  "generators",
  "transformers",
  "validators",
]);
/** Fields that inflate Helm charts (kustomize runs helm for them). */
const helmFields = ["helmCharts", "helmGlobals", "helmChartInflationGenerator"] as const;

interface Reference {
  field: string;
  value: string;
  /** A directory here is a kustomization to follow. */
  followsDirectory: boolean;
  /** A file here is a generator/transformer configuration to look into. */
  pluginConfig: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every path-like reference a kustomization file makes, with the field it is in. */
function referencesOf(doc: Record<string, unknown>): Reference[] {
  const out: Reference[] = [];
  const add = (field: string, value: unknown, followsDirectory = false, pluginConfig = false) => {
    if (typeof value === "string") out.push({ field, value, followsDirectory, pluginConfig });
  };
  for (const field of pathListFields) {
    const list = doc[field];
    if (!Array.isArray(list)) continue;
    const plugin = field === "generators" || field === "transformers" || field === "validators";
    list.forEach((entry, i) => {
      // generators/transformers may be inline configuration objects instead of paths
      if (isRecord(entry)) return;
      // an inline YAML document (several lines) is not a path
      if (typeof entry === "string" && plugin && entry.includes("\n")) return;
      add(`${field}[${i}]`, entry, directoryFields.has(field), plugin);
    });
  }
  const objectList = (field: string, key: string) => {
    const list = doc[field];
    if (!Array.isArray(list)) return;
    list.forEach((entry, i) => {
      if (isRecord(entry)) add(`${field}[${i}].${key}`, entry[key]);
    });
  };
  objectList("patches", "path");
  objectList("patchesJson6902", "path");
  objectList("replacements", "path");
  const strategic = doc.patchesStrategicMerge;
  if (Array.isArray(strategic)) {
    strategic.forEach((entry, i) => {
      if (typeof entry === "string" && !entry.includes("\n")) add(`patchesStrategicMerge[${i}]`, entry);
    });
  }
  if (isRecord(doc.openapi)) add("openapi.path", doc.openapi.path);
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
  return out;
}

function inside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function kustomizationFileIn(dir: string): string | undefined {
  for (const name of kustomizationFileNames) {
    const file = join(dir, name);
    if (existsSync(file)) return file;
  }
  return undefined;
}

function readYaml(file: string, shown: string, opts: ReferenceCheckOptions): unknown {
  const size = statSync(file).size;
  if (size > opts.maxFileBytes) {
    throw new ManifestError({ file: shown }, `is ${size} bytes, over the ${opts.maxFileBytes}-byte limit`);
  }
  try {
    return parseYaml(readFileSync(file, "utf8"), { maxAliasCount: 100 });
  } catch (err) {
    throw new ManifestError({ file: shown }, `invalid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
}

/**
 * Checks the kustomization in each of `dirs` and everything it reaches, throwing a ManifestError that names the
 * file and field of the first reference that is remote (unless allowed), leaves the root, or inflates a chart.
 */
export function assertBuildReferences(dirs: string[], opts: ReferenceCheckOptions): void {
  const realRoot = realpathSync(opts.root);
  const shown = (abs: string) => relative(realRoot, abs).split(sep).join("/") || ".";
  const visited = new Set<string>();

  const checkPluginConfig = (file: string, field: string) => {
    let docs: unknown;
    try {
      docs = readYaml(file, shown(file), opts);
    } catch {
      return; // kustomize reports unreadable files itself
    }
    const kinds = (Array.isArray(docs) ? docs : [docs]).filter(isRecord).map((d) => d.kind);
    if (kinds.includes("HelmChartInflationGenerator")) {
      throw new ManifestError(
        { file: shown(file), field: "kind" },
        `HelmChartInflationGenerator (from ${field}) is not supported; use a HelmRelease`,
      );
    }
  };

  /** `dir` is a real path (no symlinks) inside the root. */
  const visit = (dir: string) => {
    if (visited.has(dir)) return;
    visited.add(dir);
    const file = kustomizationFileIn(dir);
    if (!file) return;
    const doc = readYaml(file, shown(file), opts);
    if (!isRecord(doc)) return;
    const where = (field: string) => ({ file: shown(file), field });
    for (const field of helmFields) {
      if (doc[field] !== undefined) {
        throw new ManifestError(
          where(field),
          "Helm chart inflation in kustomize is not supported; use a HelmRelease",
        );
      }
    }
    for (const ref of referencesOf(doc)) {
      if (isRemoteReference(ref.value) && !isLocalFile(dir, ref.value)) {
        if (opts.allowRemoteResources) continue;
        throw new ManifestError(where(ref.field), `${quoted(ref.value)} is a remote reference; ${SWITCH}`);
      }
      const why = localReferenceProblem(realRoot, dir, ref.value);
      if (why) throw new ManifestError(where(ref.field), `${quoted(ref.value)} ${why}`);
      const target = realOrUndefined(resolve(dir, ref.value));
      if (!target) continue; // missing: kustomize says so in its own words
      const isDirectory = statSync(target).isDirectory();
      if (isDirectory && ref.followsDirectory) visit(target);
      else if (!isDirectory && ref.pluginConfig) checkPluginConfig(target, ref.field);
    }
  };
  for (const dir of dirs) {
    const real = realOrUndefined(dir);
    if (!real) continue;
    if (!inside(realRoot, real)) {
      throw new ManifestError({ file: shown(dir) }, "the build root is outside the tree");
    }
    visit(real);
  }
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
  if (!inside(realRoot, target)) return "leads outside the tree";
  const real = realOrUndefined(target);
  if (real && !inside(realRoot, real)) return "leads outside the tree through a symlink";
  return undefined;
}
