// Flux image automation objects (image.toolkit.fluxcd.io v1beta2 and v1) as read from a repository: schemas,
// defaults and validation, with field names from Flux's API reference. Anything else in the files is ignored.
import type { KubernetesObject } from "@kubernetes/client-node";
import { z } from "zod";
import { durationSchema as duration, parseDuration } from "../flux/duration.js";
import { ManifestError } from "../flux/errors.js";
import type { SourcedObject } from "../flux/manifests.js";
import {
  checked,
  gitRefNameError,
  namespaceError,
  namespaceSchema,
  objectNameError,
  objectNameSchema,
} from "../flux/names.js";
import { compileGoRegexp } from "./policy/go-regexp.js";
import { createPolicy, PolicyError } from "./policy/index.js";
import { ImageReferenceError, parseImageReference } from "./registry/reference.js";

export const IMAGE_GROUP = "image.toolkit.fluxcd.io";
/** Flux's default `exclusionList`: cosign signatures are tags too, and never what you deploy. */
export const DEFAULT_EXCLUSION_LIST = ["^.*\\.sig$"];

const localRef = z.object({ name: objectNameSchema });
const namespacedRef = z.object({ name: objectNameSchema, namespace: namespaceSchema.optional() });
const branchName = checked((value) => gitRefNameError(value, "branch"));
const order = z.enum(["asc", "desc"]);

const imageRepositorySpec = z.object({
  image: z.string().min(1),
  interval: duration,
  timeout: duration.optional(),
  secretRef: localRef.optional(),
  exclusionList: z.array(z.string()).max(25).optional(),
  insecure: z.boolean().optional(),
  suspend: z.boolean().optional(),
  provider: z.enum(["generic", "aws", "azure", "gcp"]).optional(),
});

const imagePolicySpec = z.object({
  imageRepositoryRef: namespacedRef,
  policy: z.object({
    semver: z.object({ range: z.string().min(1) }).optional(),
    alphabetical: z.object({ order: order.optional() }).optional(),
    numerical: z.object({ order: order.optional() }).optional(),
  }),
  filterTags: z.object({ pattern: z.string().optional(), extract: z.string().optional() }).optional(),
});

const imageUpdateAutomationSpec = z.object({
  interval: duration,
  sourceRef: z.object({
    kind: z.literal("GitRepository").default("GitRepository"),
    name: objectNameSchema,
    namespace: namespaceSchema.optional(),
  }),
  git: z
    .object({
      checkout: z.object({ ref: z.object({ branch: branchName.optional() }).optional() }).optional(),
      commit: z
        .object({
          author: z.object({ name: z.string().optional(), email: z.string().min(1) }),
          messageTemplate: z.string().optional(),
        })
        .optional(),
      push: z.object({ branch: branchName.optional() }).optional(),
    })
    .optional(),
  update: z
    .object({ path: z.string().optional(), strategy: z.literal("Setters").default("Setters") })
    .default({ strategy: "Setters" }),
  suspend: z.boolean().optional(),
});

interface Located {
  name: string;
  namespace: string;
  /** Repository-relative file the object was read from. */
  file: string;
}

export interface ImageRepository extends Located {
  spec: z.infer<typeof imageRepositorySpec> & { exclusionList: string[]; intervalMs: number };
}
export interface ImagePolicy extends Located {
  spec: z.infer<typeof imagePolicySpec>;
}
export interface ImageUpdateAutomation extends Located {
  spec: z.infer<typeof imageUpdateAutomationSpec> & { intervalMs: number };
}

export interface ImageAutomationObjects {
  repositories: ImageRepository[];
  policies: ImagePolicy[];
  automations: ImageUpdateAutomation[];
}

/** `namespace/name`, the key objects refer to each other by. */
export const objectKey = (o: { namespace: string; name: string }) => `${o.namespace}/${o.name}`;

/** Picks the image automation objects out of parsed manifests and validates them. */
export function readImageAutomationObjects(objects: readonly SourcedObject[]): ImageAutomationObjects {
  const result: ImageAutomationObjects = { repositories: [], policies: [], automations: [] };
  for (const { object, file } of objects) {
    if (!object.apiVersion?.startsWith(`${IMAGE_GROUP}/`)) continue;
    const located = locate(object, file);
    const where = { file, object: `${object.kind}/${located.namespace}/${located.name}` };
    switch (object.kind) {
      case "ImageRepository": {
        const spec = parseSpec(imageRepositorySpec, object, where);
        try {
          parseImageReference(spec.image, { insecure: spec.insecure });
        } catch (error) {
          if (error instanceof ImageReferenceError)
            throw new ManifestError({ ...where, field: "spec.image" }, error.message);
          throw error;
        }
        const exclusionList = spec.exclusionList ?? DEFAULT_EXCLUSION_LIST;
        exclusionList.forEach((pattern, index) => {
          checkPolicy(() => compileGoRegexp(pattern, "exclusion pattern"), {
            ...where,
            field: `spec.exclusionList[${index}]`,
          });
        });
        result.repositories.push({
          ...located,
          spec: { ...spec, exclusionList, intervalMs: parseDuration(spec.interval) },
        });
        break;
      }
      case "ImagePolicy": {
        const spec = parseSpec(imagePolicySpec, object, where);
        checkPolicy(() => createPolicy(spec.policy), { ...where, field: "spec.policy" });
        if (spec.filterTags?.pattern) {
          const pattern = spec.filterTags.pattern;
          checkPolicy(() => compileGoRegexp(pattern, "filterTags.pattern"), {
            ...where,
            field: "spec.filterTags.pattern",
          });
        }
        result.policies.push({ ...located, spec });
        break;
      }
      case "ImageUpdateAutomation": {
        const spec = parseSpec(imageUpdateAutomationSpec, object, where);
        result.automations.push({ ...located, spec: { ...spec, intervalMs: parseDuration(spec.interval) } });
        break;
      }
    }
  }
  return result;
}

function locate(object: KubernetesObject, file: string): Located {
  const name = object.metadata?.name;
  if (!name) throw new ManifestError({ file, object: `${object.kind}` }, "metadata.name is required");
  // Flux objects are namespaced; a manifest without a namespace lands in the default one.
  const namespace = object.metadata?.namespace ?? "default";
  const where = { file, object: `${object.kind}/${namespace}/${name}` };
  const badName = typeof name === "string" ? objectNameError(name) : "must be a string";
  if (badName) throw new ManifestError({ ...where, field: "metadata.name" }, badName);
  const badNamespace = typeof namespace === "string" ? namespaceError(namespace) : "must be a string";
  if (badNamespace) throw new ManifestError({ ...where, field: "metadata.namespace" }, badNamespace);
  return { name, namespace, file };
}

function parseSpec<T extends z.ZodType>(
  schema: T,
  object: KubernetesObject,
  where: { file: string; object: string },
): z.infer<T> {
  const parsed = schema.safeParse((object as { spec?: unknown }).spec);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = ["spec", ...issue.path.map(String)].join(".");
  throw new ManifestError({ ...where, field }, issue.message);
}

function checkPolicy(build: () => unknown, where: { file: string; object: string; field: string }): void {
  try {
    build();
  } catch (error) {
    if (error instanceof PolicyError) throw new ManifestError(where, error.message);
    throw error;
  }
}
