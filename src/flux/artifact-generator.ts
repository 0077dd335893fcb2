// Flux 2.7's ArtifactGenerator (source.extensions.fluxcd.io/v1beta1, source-watcher): sources bound to aliases,
// and artifacts assembled from them by copy operations (`from: "@alias/<glob>"`, `to: "@artifact/<path>"`,
// `exclude` globs). Each artifact becomes an ExternalArtifact of that name in the generator's namespace, which
// Kustomizations (`sourceRef.kind: ExternalArtifact`) and HelmReleases (`chartRef.kind: ExternalArtifact`)
// reference. Schema and checks here; the assembling is src/source/kinds/artifact-generator/.
import type { KubernetesObject } from "@kubernetes/client-node";
import { z } from "zod";
import { ManifestError } from "./errors.js";
import { checked, checkedMetadata, namespaceSchema, objectNameSchema, quoted } from "./names.js";
import { parseSpec } from "./parse-spec.js";

export const ARTIFACT_GENERATOR_GROUP = "source.extensions.fluxcd.io";

/** The most a generator may declare (Flux's CRD caps exclude at 100; the rest bound our work). */
export const ARTIFACT_GENERATOR_LIMITS = {
  maxSources: 50,
  maxArtifacts: 100,
  maxCopies: 100,
  maxExcludes: 100,
  maxPatternLength: 1024,
} as const;

const alias = /^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$/;
const aliasRef = z.string().regex(/^@[a-z0-9]([a-z0-9_-]*[a-z0-9])?$/, { message: 'must be "@<alias>"' });

/** A path or glob inside an artifact: relative, `/`-separated, no `.` or `..` segment, no backslash or NUL. */
export function artifactPathError(path: string): string | undefined {
  if (path.length > ARTIFACT_GENERATOR_LIMITS.maxPatternLength)
    return `is longer than ${ARTIFACT_GENERATOR_LIMITS.maxPatternLength} characters`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\\\x00-\x1f\x7f]/.test(path)) return `${quoted(path)} has a backslash or a control character`;
  if (path.startsWith("/")) return `${quoted(path)} must be relative`;
  if (path.split("/").some((seg) => seg === ".." || seg === "."))
    return `${quoted(path)} must not have "." or ".." segments`;
  return undefined;
}

const fromField = checked((value) => {
  const m = /^@([^/]+)\/(.*)$/.exec(value);
  if (!m || !alias.test(m[1] as string)) return `${quoted(value)} must be "@<alias>/<glob>"`;
  return artifactPathError(m[2] as string);
});
const toField = checked((value) => {
  if (!value.startsWith("@artifact/")) return `${quoted(value)} must start with "@artifact/"`;
  return artifactPathError(value.slice("@artifact/".length));
});
const excludeField = checked((value) => artifactPathError(value));

export const artifactGeneratorSpecSchema = z.strictObject({
  sources: z
    .array(
      z.strictObject({
        alias: z.string().regex(alias, { message: "letters, digits, '-' and '_' (lowercase)" }),
        kind: z.enum(["GitRepository", "OCIRepository", "Bucket", "HelmChart", "ExternalArtifact"]),
        name: objectNameSchema,
        namespace: namespaceSchema.optional(),
      }),
    )
    .min(1)
    .max(ARTIFACT_GENERATOR_LIMITS.maxSources),
  artifacts: z
    .array(
      z.strictObject({
        name: objectNameSchema,
        revision: aliasRef.optional(),
        originRevision: aliasRef.optional(),
        copy: z
          .array(
            z.strictObject({
              from: fromField,
              to: toField,
              exclude: z.array(excludeField).max(ARTIFACT_GENERATOR_LIMITS.maxExcludes).optional(),
              strategy: z.enum(["Overwrite", "Merge", "Extract"]).optional(),
              optional: z.boolean().optional(),
            }),
          )
          .min(1)
          .max(ARTIFACT_GENERATOR_LIMITS.maxCopies),
      }),
    )
    .min(1)
    .max(ARTIFACT_GENERATOR_LIMITS.maxArtifacts),
});

export type ArtifactGeneratorSpec = z.infer<typeof artifactGeneratorSpecSchema>;
export type GeneratedArtifactSpec = ArtifactGeneratorSpec["artifacts"][number];

export interface ArtifactGeneratorSource {
  kind: "ArtifactGenerator";
  name: string;
  namespace: string;
  file: string;
  timeoutMs: number;
  spec: ArtifactGeneratorSpec & { suspend?: boolean };
}

export function isArtifactGenerator(obj: KubernetesObject): boolean {
  return (
    obj.kind === "ArtifactGenerator" && (obj.apiVersion ?? "").startsWith(`${ARTIFACT_GENERATOR_GROUP}/`)
  );
}

/** Validates an ArtifactGenerator read from `file`; errors name the file, object and field. */
export function parseArtifactGenerator(obj: KubernetesObject, file: string): ArtifactGeneratorSource {
  const { name, namespace, subject } = checkedMetadata(obj, "ArtifactGenerator", file);
  if (obj.apiVersion !== `${ARTIFACT_GENERATOR_GROUP}/v1beta1`) {
    throw new ManifestError(
      { file, object: subject, field: "apiVersion" },
      `${obj.apiVersion} is not supported; use ${ARTIFACT_GENERATOR_GROUP}/v1beta1`,
    );
  }
  const spec = parseSpec(artifactGeneratorSpecSchema, obj, file, subject);
  const fail = (field: string, reason: string) => new ManifestError({ file, object: subject, field }, reason);
  const aliases = new Set<string>();
  for (const [i, s] of spec.sources.entries()) {
    if (aliases.has(s.alias)) throw fail(`spec.sources[${i}].alias`, `alias "${s.alias}" is used twice`);
    aliases.add(s.alias);
    if (s.kind !== "GitRepository" && s.kind !== "OCIRepository") {
      throw fail(
        `spec.sources[${i}].kind`,
        `${s.kind} sources are not supported; use a GitRepository or an OCIRepository`,
      );
    }
  }
  const names = new Set<string>();
  for (const [i, a] of spec.artifacts.entries()) {
    if (names.has(a.name)) throw fail(`spec.artifacts[${i}].name`, `artifact "${a.name}" is declared twice`);
    names.add(a.name);
    for (const field of ["revision", "originRevision"] as const) {
      const ref = a[field];
      if (ref && !aliases.has(ref.slice(1)))
        throw fail(`spec.artifacts[${i}].${field}`, `${ref} is not one of the sources' aliases`);
    }
    for (const [j, c] of a.copy.entries()) {
      const where = `spec.artifacts[${i}].copy[${j}]`;
      const used = /^@([^/]+)\//.exec(c.from)?.[1] as string;
      if (!aliases.has(used)) throw fail(`${where}.from`, `@${used} is not one of the sources' aliases`);
    }
  }
  const suspended = obj.metadata?.annotations?.["source.extensions.fluxcd.io/reconcile"];
  return {
    kind: "ArtifactGenerator",
    name,
    namespace,
    file,
    timeoutMs: 60_000,
    spec: { ...spec, ...(suspended?.toLowerCase() === "disabled" ? { suspend: true } : {}) },
  };
}

/** One artifact of a generator, as the source a Kustomization or HelmRelease references (ExternalArtifact). */
export interface ExternalArtifactSource {
  kind: "ExternalArtifact";
  name: string;
  namespace: string;
  file: string;
  timeoutMs: number;
  generator: ArtifactGeneratorSource;
  spec: GeneratedArtifactSpec & { suspend?: boolean };
}

/** The ExternalArtifacts a generator produces, in its namespace. */
export function generatedArtifacts(generator: ArtifactGeneratorSource): ExternalArtifactSource[] {
  return generator.spec.artifacts.map((artifact) => ({
    kind: "ExternalArtifact",
    name: artifact.name,
    namespace: generator.namespace,
    file: generator.file,
    timeoutMs: generator.timeoutMs,
    generator,
    spec: { ...artifact, ...(generator.spec.suspend ? { suspend: true } : {}) },
  }));
}
