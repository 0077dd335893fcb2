// Flux sources (source.toolkit.fluxcd.io): GitRepository, OCIRepository and HelmRepository. Schemas, defaults
// and validation; field names and meanings follow Flux's API reference (v1, and v1beta2 for OCIRepository
// which older repositories still use). docs/flux-compatibility.md says where we differ.
import type { KubernetesObject } from "@kubernetes/client-node";
import { z } from "zod";
import {
  type ArtifactGeneratorSource,
  type ExternalArtifactSource,
  isArtifactGenerator,
  parseArtifactGenerator,
} from "./artifact-generator.js";
import { durationSchema as duration, parseDuration } from "./duration.js";
import { ManifestError } from "./errors.js";
import { type HelmChartSource, isHelmChart, parseHelmChart } from "./helm-chart.js";
import {
  checked,
  checkedMetadata,
  commitError,
  gitRefNameError,
  objectNameSchema,
  ociTagError,
  relativePathError,
} from "./names.js";
import { parseSpec } from "./parse-spec.js";

export const SOURCE_GROUP = "source.toolkit.fluxcd.io";
export type SourceKind = "GitRepository" | "OCIRepository" | "HelmRepository";
export const sourceKinds: readonly SourceKind[] = ["GitRepository", "OCIRepository", "HelmRepository"];

const localRef = z.strictObject({ name: objectNameSchema });
const sourcePath = checked((value) => relativePathError(value));

export const gitRepositorySpecSchema = z.strictObject({
  url: z.string().regex(/^(http|https|ssh):\/\//, { message: "must start with http://, https:// or ssh://" }),
  secretRef: localRef.optional(),
  interval: duration,
  timeout: duration.optional(),
  ref: z
    .strictObject({
      branch: checked((value) => gitRefNameError(value, "branch")).optional(),
      tag: checked((value) => gitRefNameError(value, "tag")).optional(),
      semver: z.string().min(1).optional(),
      name: z.string().min(1).optional(),
      commit: checked(commitError).optional(),
    })
    .optional(),
  ignore: z.string().optional(),
  include: z
    .array(
      z.strictObject({
        repository: localRef,
        fromPath: sourcePath.optional(),
        toPath: sourcePath.optional(),
      }),
    )
    .optional(),
  suspend: z.boolean().optional(),
  recurseSubmodules: z.boolean().optional(),
  verify: z.unknown().optional(),
  provider: z.string().optional(),
  proxySecretRef: localRef.optional(),
  // Valid Flux fields gitops-bot accepts and does not act on (docs/flux-compatibility.md).
  serviceAccountName: objectNameSchema.optional(),
  sparseCheckout: z.array(z.string()).optional(),
});

export const ociRepositorySpecSchema = z.strictObject({
  url: z.string().regex(/^oci:\/\//, { message: "must start with oci://" }),
  ref: z
    .strictObject({
      tag: checked(ociTagError).optional(),
      semver: z.string().min(1).optional(),
      semverFilter: z.string().optional(),
      digest: z
        .string()
        .regex(/^sha256:[0-9a-f]{64}$/, { message: "must be sha256:<64 hex digits>" })
        .optional(),
    })
    .optional(),
  layerSelector: z
    .strictObject({
      mediaType: z.string().min(1).optional(),
      operation: z.enum(["extract", "copy"]).optional(),
    })
    .optional(),
  secretRef: localRef.optional(),
  provider: z.enum(["generic", "aws", "azure", "gcp"]).optional(),
  insecure: z.boolean().optional(),
  interval: duration,
  timeout: duration.optional(),
  ignore: z.string().optional(),
  suspend: z.boolean().optional(),
  verify: z.unknown().optional(),
  certSecretRef: localRef.optional(),
  serviceAccountName: objectNameSchema.optional(),
  proxySecretRef: localRef.optional(),
});

export const helmRepositorySpecSchema = z.strictObject({
  url: z.string().regex(/^(http|https|oci):\/\//, { message: "must start with http://, https:// or oci://" }),
  type: z.enum(["default", "oci"]).optional(),
  secretRef: localRef.optional(),
  passCredentials: z.boolean().optional(),
  insecure: z.boolean().optional(),
  interval: duration.optional(),
  timeout: duration.optional(),
  suspend: z.boolean().optional(),
  provider: z.enum(["generic", "aws", "azure", "gcp"]).optional(),
  certSecretRef: localRef.optional(),
  /** Flux's cross-namespace access list (source-controller's `--no-cross-namespace-refs` era); not used. */
  accessFrom: z
    .strictObject({
      namespaceSelectors: z.array(
        z.strictObject({ matchLabels: z.record(z.string(), z.string()).optional() }),
      ),
    })
    .optional(),
});

// The index signature is kept from when these schemas passed unknown fields through: src/preflight reads the
// `*SecretRef` fields of any source by name. The parsed values never carry fields the schemas do not list.
type AnyField = { readonly [field: string]: unknown };
export type GitRepositorySpec = z.infer<typeof gitRepositorySpecSchema> & AnyField;
export type OCIRepositorySpec = z.infer<typeof ociRepositorySpecSchema> & AnyField;
export type HelmRepositorySpec = z.infer<typeof helmRepositorySpecSchema> & AnyField;

interface SourceBase {
  name: string;
  namespace: string;
  /** Repository-relative file the object was read from. */
  file: string;
  timeoutMs: number;
}
export interface GitRepositorySource extends SourceBase {
  kind: "GitRepository";
  spec: GitRepositorySpec;
}
export interface OCIRepositorySource extends SourceBase {
  kind: "OCIRepository";
  spec: OCIRepositorySpec;
}
export interface HelmRepositorySource extends SourceBase {
  kind: "HelmRepository";
  spec: HelmRepositorySpec;
}
export type FluxSource =
  | GitRepositorySource
  | OCIRepositorySource
  | HelmRepositorySource
  | HelmChartSource
  | ArtifactGeneratorSource
  | ExternalArtifactSource;

export function sourceKey(s: { kind: string; name: string; namespace: string }): string {
  return `${s.kind}/${s.namespace}/${s.name}`;
}

export function isSource(obj: KubernetesObject): boolean {
  if (isArtifactGenerator(obj) || isHelmChart(obj)) return true;
  return (
    sourceKinds.includes(obj.kind as SourceKind) && (obj.apiVersion ?? "").startsWith(`${SOURCE_GROUP}/`)
  );
}

const versions: Record<SourceKind, string[]> = {
  GitRepository: ["v1"],
  OCIRepository: ["v1", "v1beta2"],
  HelmRepository: ["v1"],
};

/** Validates a Flux source object read from `file`; errors name the file, object and field. */
export function parseSource(obj: KubernetesObject, file: string): FluxSource {
  if (isArtifactGenerator(obj)) return parseArtifactGenerator(obj, file);
  if (isHelmChart(obj)) return parseHelmChart(obj, file);
  const kind = obj.kind as SourceKind;
  const { name, namespace, subject } = checkedMetadata(obj, kind, file);
  const version = (obj.apiVersion ?? "").split("/")[1] ?? "";
  if (!versions[kind]?.includes(version)) {
    throw new ManifestError(
      { file, object: subject, field: "apiVersion" },
      `${obj.apiVersion} is not supported; use ${SOURCE_GROUP}/v1`,
    );
  }
  const base = { name, namespace, file };
  const timeout = (spec: { timeout?: string }, fallback: string) => parseDuration(spec.timeout ?? fallback);
  switch (kind) {
    case "GitRepository": {
      const spec = parseSpec(gitRepositorySpecSchema, obj, file, subject);
      const ref = spec.ref ?? {};
      if (ref.name) {
        throw new ManifestError(
          { file, object: subject, field: "spec.ref.name" },
          "Git references by full name are not supported; use branch, tag, semver or commit",
        );
      }
      if (spec.verify) {
        throw new ManifestError(
          { file, object: subject, field: "spec.verify" },
          "commit signature verification is not supported",
        );
      }
      if (spec.recurseSubmodules) {
        throw new ManifestError(
          { file, object: subject, field: "spec.recurseSubmodules" },
          "submodules are not supported",
        );
      }
      return { kind, ...base, spec, timeoutMs: timeout(spec, "60s") };
    }
    case "OCIRepository": {
      const spec = parseSpec(ociRepositorySpecSchema, obj, file, subject);
      if (spec.provider && spec.provider !== "generic") {
        throw new ManifestError(
          { file, object: subject, field: "spec.provider" },
          `${spec.provider} workload identity is not supported; use secretRef`,
        );
      }
      if (spec.verify) {
        throw new ManifestError(
          { file, object: subject, field: "spec.verify" },
          "signature verification is not supported",
        );
      }
      return { kind, ...base, spec, timeoutMs: timeout(spec, "60s") };
    }
    case "HelmRepository": {
      const spec = parseSpec(helmRepositorySpecSchema, obj, file, subject);
      const isOci = spec.type === "oci";
      if (isOci !== spec.url.startsWith("oci://")) {
        throw new ManifestError(
          { file, object: subject, field: "spec.url" },
          isOci ? "must start with oci:// when type is oci" : "an oci:// URL needs type: oci",
        );
      }
      if (spec.provider && spec.provider !== "generic") {
        throw new ManifestError(
          { file, object: subject, field: "spec.provider" },
          `${spec.provider} workload identity is not supported; use secretRef`,
        );
      }
      return { kind, ...base, spec, timeoutMs: timeout(spec, "60s") };
    }
    default:
      throw new ManifestError({ file, object: subject, field: "kind" }, "is not a Flux source kind");
  }
}
