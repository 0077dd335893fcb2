// Rendering a Flux Kustomization with the real `kustomize` binary, as kustomize-controller does:
// a directory without kustomization.yaml gets one generated from its manifests, and the Flux fields
// (targetNamespace, namePrefix/Suffix, patches, images, components) go into an overlay around spec.path.
// Builds run in a private copy of the checkout, never in the user's files, and are bounded: every reference a
// kustomization makes is checked first (kustomize-references.ts: no remote resources unless the operator allows
// them, nothing outside the tree, no Helm inflation), kustomize runs through runTool (minimal environment,
// timeout, output cap) without its load restrictor (as Flux, confined by that check) and without exec/KRM plugins.
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { ManifestError, type ManifestLocation } from "../flux/errors.js";
import type { FluxKustomization } from "../flux/kustomization.js";
import { defaultManifestLimits, isYamlFile, type ManifestLimits, parseManifests } from "../flux/manifests.js";
import { assertBoundedPatches } from "../flux/yaml-alias-bound.js";
import { toYaml } from "../reconcile/yaml.js";
import { assertNoEscapingSymlinks, repoRelative, resolveInRepo } from "../source/repo-path.js";
import { runTool, ToolError } from "../util/child-process.js";
import { createOutboundPolicy, type OutboundPolicy } from "../util/outbound/index.js";
import { isInside } from "../util/path-inside.js";
import {
  buildCacheEnabled,
  buildCacheKey,
  memoTreeDigest,
  readBuildCache,
  writeBuildCache,
} from "./build-cache.js";
import { acquireOverlay, removeScratch, toolHome } from "./build-scratch.js";
import { explainKustomizeMessage, repositoryPaths } from "./kustomize-errors.js";
import {
  assertBuildReferences,
  kustomizationFileNames as kustomizationFiles,
} from "./kustomize-references.js";

export function kustomizeBinary(): string {
  return process.env.GITOPS_BOT_KUSTOMIZE || "kustomize";
}

/** How a kustomize build is bounded. The operator's `security` section sets these for the GitHub App. */
export interface KustomizeOptions {
  /** kustomize is killed after this long (operator `security.maxBuildTime`). */
  timeoutMs: number;
  /** kustomize printing more than this is stopped. */
  maxOutputBytes: number;
  /** Remote bases and resources (http(s), git); operator `security.remoteKustomizeResources`, never for forks. */
  allowRemoteResources: boolean;
  /** kustomize using more memory than this (resident, with its children) is stopped. */
  maxMemoryBytes: number;
  /** Which hosts remote references may name (operator `security.outbound`); default: metadata addresses denied. */
  outbound?: OutboundPolicy;
}

export function defaultKustomizeOptions(): KustomizeOptions {
  return {
    timeoutMs: 2 * 60_000,
    maxOutputBytes: 256 * 1024 * 1024,
    allowRemoteResources: false,
    maxMemoryBytes: 2 * 1024 ** 3,
  };
}

export interface WorkTree {
  dir: string;
  cleanup(): void;
}

/** Work trees made by prepareWorkTree and not cleaned up yet: the trees kustomize builds are confined to. */
const liveWorkTrees = new Set<string>();

/** The work tree `dir` is in, when prepareWorkTree made it. */
function workTreeOf(dir: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    return undefined;
  }
  for (const root of liveWorkTrees) if (isInside(root, real)) return root;
  return undefined;
}

/** Copies a checkout (without .git) to a private temporary directory, refusing symlinks that lead out. */
export function prepareWorkTree(repoDir: string): WorkTree {
  assertNoEscapingSymlinks(repoDir, repoDir);
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "gitops-bot-build-")));
  try {
    cpSync(repoDir, dir, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (src) => !src.endsWith("/.git") && !src.includes("/.git/"),
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  liveWorkTrees.add(dir);
  return {
    dir,
    cleanup: () => {
      liveWorkTrees.delete(dir);
      removeScratch(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function hasKustomizationFile(dir: string): boolean {
  return kustomizationFiles.some((f) => existsSync(join(dir, f)));
}

/**
 * Writes the kustomization.yaml Flux would generate for a plain directory: every Kubernetes manifest below it,
 * and subdirectories that have their own kustomization.yaml as a whole.
 */
export function generateKustomization(root: string, dir: string, limits: ManifestLimits): void {
  const resources: string[] = [];
  const visit = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (entry.name.startsWith(".")) continue;
      const full = join(d, entry.name);
      if (entry.isDirectory()) {
        if (hasKustomizationFile(full)) resources.push(relative(dir, full));
        else visit(full);
      } else if (entry.isFile() && isYamlFile(entry.name)) {
        // Only files that are Kubernetes objects; other YAML (values files, CI config) is not a resource.
        if (isKubernetesManifest(full, repoRelative(root, full), limits)) resources.push(relative(dir, full));
      }
    }
  };
  visit(dir);
  writeFileSync(
    join(dir, "kustomization.yaml"),
    toYaml({ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources }),
  );
}

/**
 * True when the file holds Kubernetes objects: a top-level `apiVersion` and `kind`. Decided from the text, not
 * by parsing (kustomize parses it next, and reports bad YAML with the file's name), because parsing every file
 * twice doubled the cost of large plain directories. The size limit still applies before anything is read.
 */
function isKubernetesManifest(abs: string, file: string, limits: ManifestLimits): boolean {
  const size = statSync(abs).size;
  if (size > limits.maxFileBytes) {
    throw new ManifestError({ file }, `is ${size} bytes, over the ${limits.maxFileBytes}-byte limit`);
  }
  const text = readFileSync(abs, "utf8");
  if (/^\s*[[{]/.test(text)) {
    // JSON: parse it, it is cheap and the only way to see the top level.
    try {
      const value = JSON.parse(text) as unknown;
      return typeof value === "object" && value !== null && "apiVersion" in value && "kind" in value;
    } catch (err) {
      throw new ManifestError({ file }, `invalid JSON: ${(err as Error).message}`);
    }
  }
  return /^apiVersion:[ \t]*\S/m.test(text) && /^kind:[ \t]*\S/m.test(text);
}

export interface RunKustomizeOptions extends Partial<KustomizeOptions> {
  /**
   * The tree every reference must stay inside; default: the work tree (from prepareWorkTree) `dir` is in, else
   * `dir` itself.
   */
  root?: string;
  /** The largest kustomization file read while checking references. */
  maxFileBytes?: number;
}

/**
 * `kustomize build <dir>`, after checking every kustomization it reaches (kustomize-references.ts). Errors: a
 * ManifestError naming the kustomization file and field of a refused reference, else an Error with
 * kustomize's own message (or the timeout / output limit).
 */
export async function runKustomize(dir: string, options: RunKustomizeOptions = {}): Promise<string> {
  const opts = { ...defaultKustomizeOptions(), ...definedOnly(options) };
  const root = options.root ?? workTreeOf(dir) ?? dir;
  const remote: Array<{ value: string; where: ManifestLocation }> = [];
  assertBuildReferences([dir], {
    root,
    allowRemoteResources: opts.allowRemoteResources,
    maxFileBytes: options.maxFileBytes ?? defaultManifestLimits().maxFileBytes,
    remote,
  });
  await checkRemoteHosts(remote, opts.outbound ?? createOutboundPolicy());
  try {
    return await kustomizeBuild(dir, opts, "kustomize build", root);
  } catch (err) {
    if (err instanceof ToolError || !(err instanceof Error)) throw err;
    throw new Error(explainKustomizeMessage(repositoryPaths(err.message, root)), { cause: err });
  }
}

/**
 * kustomize fetches remote references itself, so their hosts are checked against the outbound policy first
 * (deny list, link-local and metadata addresses). kustomize resolves the name again when it connects: a name
 * that changes its answer in between is not caught here (docs/security.md).
 */
async function checkRemoteHosts(
  remote: Array<{ value: string; where: ManifestLocation }>,
  outbound: OutboundPolicy,
): Promise<void> {
  for (const { value, where } of remote) {
    const host = remoteHost(value);
    if (!host)
      throw new ManifestError(where, `${JSON.stringify(value)}: cannot tell which host it names; refused`);
    try {
      await outbound.check(host);
    } catch (err) {
      throw new ManifestError(where, `${JSON.stringify(value)}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** The host a kustomize remote reference names: a URL's host, or git's `user@host:path` form. */
function remoteHost(value: string): string | undefined {
  const v = value.replace(/^\s*git::/i, "").trim();
  try {
    const url = new URL(v);
    if (url.hostname) return url.hostname;
  } catch {
    // not a URL
  }
  const scp = /^(?:[^@/\s]+@)?([^:/\s]+):/.exec(v);
  if (scp?.[1]) return scp[1];
  const bare = /^([a-z0-9.-]+\.[a-z]{2,})\//i.exec(v);
  return bare?.[1];
}

/** Keeps callers' `undefined` from overriding a default. */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Runs the binary, no plugins, without kustomize's load restrictor, as Flux builds inside the source root: a
 * kustomization may load files from anywhere in the work tree. Every caller runs assertBuildReferences on the
 * same private work tree first, which refuses every path leading out and rewrites each kustomization and plugin
 * configuration into the form it checked (kustomize-references.ts), so kustomize reads nothing it did not see.
 */
async function kustomizeBuild(
  dir: string,
  opts: KustomizeOptions,
  label: string,
  root: string,
): Promise<string> {
  try {
    const { stdout } = await runTool({
      binary: kustomizeBinary(),
      args: ["build", "--load-restrictor", "LoadRestrictionsNone", dir],
      timeoutMs: opts.timeoutMs,
      maxOutputBytes: opts.maxOutputBytes,
      maxMemoryBytes: opts.maxMemoryBytes,
      label,
      // The builds of one work tree share a private HOME (build-scratch.ts); any other tree gets its own.
      ...(liveWorkTrees.has(root) ? { home: toolHome(root) } : {}),
    });
    return stdout;
  } catch (err) {
    if (!(err instanceof ToolError)) throw err;
    if (err.reason === "not-found") {
      throw new Error(
        `kustomize binary "${kustomizeBinary()}" not found: install kustomize v5 or set GITOPS_BOT_KUSTOMIZE`,
        { cause: err },
      );
    }
    if (err.reason === "exit" && err.stderr.trim()) {
      throw new Error(err.stderr.trim().replace(/^Error: /, ""), { cause: err });
    }
    throw err;
  }
}

/** Builds one Flux Kustomization inside a work tree and returns its objects, commonMetadata applied. */
export async function buildKustomization(
  work: WorkTree,
  ks: FluxKustomization,
  limits: ManifestLimits = defaultManifestLimits(),
  options: Partial<KustomizeOptions> = {},
): Promise<KubernetesObject[]> {
  const opts = { ...defaultKustomizeOptions(), ...definedOnly(options) };
  const object = `Kustomization/${ks.namespace}/${ks.name}`;
  const where = { file: ks.file, object, field: "spec.path" };
  const target = resolveInRepo(work.dir, ks.spec.path ?? "./", where);
  // The digest is taken before this build generates anything into the tree.
  const tree = buildCacheEnabled() ? memoTreeDigest(work) : undefined;
  if (!hasKustomizationFile(target)) generateKustomization(work.dir, target, limits);
  const spec0 = ks.spec;
  const cacheKey = buildCacheKey({
    binary: kustomizeBinary(),
    tree: tree ?? "",
    build: {
      path: relative(work.dir, target),
      targetNamespace: spec0.targetNamespace,
      namePrefix: spec0.namePrefix,
      nameSuffix: spec0.nameSuffix,
      patches: spec0.patches,
      images: spec0.images,
      components: spec0.components,
      commonMetadata: spec0.commonMetadata,
    },
    limits,
  });
  const cached = tree ? readBuildCache(cacheKey) : undefined;
  if (cached) return cached;

  const spec = ks.spec;
  const componentDirs = (spec.components ?? []).map((c, i) =>
    resolveInRepo(work.dir, join(relative(work.dir, target), c), {
      ...where,
      field: `spec.components[${i}]`,
    }),
  );
  try {
    const remote: Array<{ value: string; where: ManifestLocation }> = [];
    assertBuildReferences([target, ...componentDirs], {
      root: work.dir,
      allowRemoteResources: opts.allowRemoteResources,
      maxFileBytes: limits.maxFileBytes,
      remote,
    });
    await checkRemoteHosts(remote, opts.outbound ?? createOutboundPolicy());
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    throw new ManifestError({ file: ks.file, object }, err.message, { cause: err });
  }
  // Inline patches go to kustomize as YAML text: the same alias bound as the tree's files.
  assertBoundedPatches(spec.patches, { ...where, field: "spec.patches" });

  // A private directory outside the work tree (an overlay inside a tree whose root is spec.path "./" is a cycle),
  // no repository string in its path: from the tree's scratch pool (build-scratch.ts), else its own.
  const pooled = liveWorkTrees.has(work.dir) ? acquireOverlay(work.dir) : undefined;
  const overlay = pooled?.dir ?? mkdtempSync(join(tmpdir(), "gitops-bot-overlay-"));
  const components = componentDirs.map((c) => relative(overlay, c));
  const kustomization: Record<string, unknown> = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: [relative(overlay, target)],
    ...(spec.targetNamespace ? { namespace: spec.targetNamespace } : {}),
    ...(spec.namePrefix ? { namePrefix: spec.namePrefix } : {}),
    ...(spec.nameSuffix ? { nameSuffix: spec.nameSuffix } : {}),
    ...(spec.patches?.length ? { patches: spec.patches } : {}),
    ...(spec.images?.length ? { images: spec.images } : {}),
    ...(components.length ? { components } : {}),
  };
  let output: string;
  try {
    writeFileSync(join(overlay, "kustomization.yaml"), toYaml(kustomization));
    output = await kustomizeBuild(overlay, opts, `kustomize build ${spec.path ?? "./"}`, work.dir);
  } catch (err) {
    throw new ManifestError({ file: ks.file, object }, buildFailure(err, spec.path ?? "./", work.dir), {
      cause: err,
    });
  } finally {
    if (pooled) pooled.release();
    else removeOverlay(overlay);
  }
  const objects = parseManifests(output, ks.spec.path ?? "./", limits).map((o) =>
    withCommonMetadata(o.object, spec.commonMetadata),
  );
  if (tree) writeBuildCache(cacheKey, objects);
  return objects;
}

/** The overlay holds only its kustomization.yaml: two syscalls, not a recursive walk (100 builds: 0.2 s of CPU). */
function removeOverlay(overlay: string): void {
  try {
    unlinkSync(join(overlay, "kustomization.yaml"));
    rmdirSync(overlay);
  } catch {
    rmSync(overlay, { recursive: true, force: true });
  }
}

/**
 * What went wrong in a build, for the Kustomization's error: kustomize's words (with repository paths, not the
 * work tree's), or which bound stopped it.
 */
function buildFailure(err: unknown, path: string, workDir: string): string {
  const message = repositoryPaths((err as Error).message, workDir);
  if (err instanceof ToolError && err.reason === "timeout") {
    return `${message} (the build time limit, operator setting security.maxBuildTime)`;
  }
  if (err instanceof ToolError && (err.reason === "output-limit" || err.reason === "memory-limit"))
    return message;
  return `kustomize build ${path} failed: ${explainKustomizeMessage(message)}`;
}

function withCommonMetadata(
  obj: KubernetesObject,
  common: FluxKustomization["spec"]["commonMetadata"],
): KubernetesObject {
  if (!common?.labels && !common?.annotations) return obj;
  const metadata = { ...obj.metadata };
  if (common.labels) metadata.labels = { ...metadata.labels, ...common.labels };
  if (common.annotations) metadata.annotations = { ...metadata.annotations, ...common.annotations };
  return { ...obj, metadata };
}
