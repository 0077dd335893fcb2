// Rendering a Flux Kustomization with the real `kustomize` binary, as kustomize-controller does:
// a directory without kustomization.yaml gets one generated from its manifests, and the Flux fields
// (targetNamespace, namePrefix/Suffix, patches, images, components) go into an overlay around spec.path.
// Builds run in a private copy of the checkout, never in the user's files.
import { execFile } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { ManifestError } from "../flux/errors.js";
import type { FluxKustomization } from "../flux/kustomization.js";
import { defaultManifestLimits, isYamlFile, type ManifestLimits, parseManifests } from "../flux/manifests.js";
import { toYaml } from "../reconcile/yaml.js";
import { assertNoEscapingSymlinks, repoRelative, resolveInRepo } from "../source/repo-path.js";
import {
  buildCacheEnabled,
  buildCacheKey,
  memoTreeDigest,
  readBuildCache,
  writeBuildCache,
} from "./build-cache.js";

const kustomizationFiles = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
const overlayDir = ".gitops-bot-overlays";

export function kustomizeBinary(): string {
  return process.env.GITOPS_BOT_KUSTOMIZE || "kustomize";
}

export interface WorkTree {
  dir: string;
  cleanup(): void;
}

/** Copies a checkout (without .git) to a private temporary directory, refusing symlinks that lead out. */
export function prepareWorkTree(repoDir: string): WorkTree {
  assertNoEscapingSymlinks(repoDir, repoDir);
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-build-"));
  cpSync(repoDir, dir, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) => !src.endsWith("/.git") && !src.includes("/.git/"),
  });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
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

export function runKustomize(dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(kustomizeBinary(), ["build", dir], { maxBuffer: 512 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT") {
          reject(
            new Error(
              `kustomize binary "${kustomizeBinary()}" not found: install kustomize v5 or set GITOPS_BOT_KUSTOMIZE`,
            ),
          );
        } else {
          reject(new Error((stderr || err.message).trim().replace(/^Error: /, "")));
        }
        return;
      }
      resolve(stdout);
    });
  });
}

/** Builds one Flux Kustomization inside a work tree and returns its objects, commonMetadata applied. */
export async function buildKustomization(
  work: WorkTree,
  ks: FluxKustomization,
  limits: ManifestLimits = defaultManifestLimits(),
): Promise<KubernetesObject[]> {
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

  // Beside the work tree, not inside it: an overlay inside a tree whose root is spec.path ("./") is a cycle.
  const overlayRoot = `${work.dir}${overlayDir}`;
  const overlay = join(overlayRoot, `${ks.namespace}-${ks.name}`);
  mkdirSync(overlay, { recursive: true });
  const spec = ks.spec;
  const components = (spec.components ?? []).map((c, i) =>
    relative(
      overlay,
      resolveInRepo(work.dir, join(relative(work.dir, target), c), {
        ...where,
        field: `spec.components[${i}]`,
      }),
    ),
  );
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
  writeFileSync(join(overlay, "kustomization.yaml"), toYaml(kustomization));

  let output: string;
  try {
    output = await runKustomize(overlay);
  } catch (err) {
    throw new ManifestError(
      { file: ks.file, object },
      `kustomize build ${ks.spec.path ?? "./"} failed: ${(err as Error).message}`,
    );
  } finally {
    rmSync(overlay, { recursive: true, force: true });
    try {
      rmdirSync(overlayRoot);
    } catch {
      // another build of the same run still has its overlay there
    }
  }
  const objects = parseManifests(output, ks.spec.path ?? "./", limits).map((o) =>
    withCommonMetadata(o.object, spec.commonMetadata),
  );
  if (tree) writeBuildCache(cacheKey, objects);
  return objects;
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
