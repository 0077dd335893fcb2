// Flux image automation objects (image.toolkit.fluxcd.io v1beta2 and v1) as read from a repository: the objects
// through their strict schemas (src/images/schemas.ts), defaults and the checks a schema cannot make.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { z } from "zod";
import { fluxLookAlikeProblem } from "../flux/api-groups.js";
import { parseDuration } from "../flux/duration.js";
import { ManifestError } from "../flux/errors.js";
import type { SourcedObject } from "../flux/manifests.js";
import { checkedMetadata } from "../flux/names.js";
import { parseSpec } from "../flux/parse-spec.js";
import { compileGoRegexp } from "./policy/go-regexp.js";
import { createPolicy, PolicyError } from "./policy/index.js";
import { ImageReferenceError, parseImageReference } from "./registry/reference.js";
import { imagePolicySpec, imageRepositorySpec, imageUpdateAutomationSpec } from "./schemas.js";

export const IMAGE_GROUP = "image.toolkit.fluxcd.io";
/** Flux's default `exclusionList`: cosign signatures are tags too, and never what you deploy. */
export const DEFAULT_EXCLUSION_LIST = ["^.*\\.sig$"];

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
    const { located, where } = locate(object, file);
    // A kind the group does not have (`ImagePolicey`) or a version Flux never had is an error, not skipped.
    const lookAlike = fluxLookAlikeProblem(object);
    if (lookAlike) throw new ManifestError({ ...where, field: lookAlike.field }, lookAlike.reason);
    switch (object.kind) {
      case "ImageRepository": {
        const spec = parseSpec(imageRepositorySpec, object, file, where.object);
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
        const spec = parseSpec(imagePolicySpec, object, file, where.object);
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
        const spec = parseSpec(imageUpdateAutomationSpec, object, file, where.object);
        result.automations.push({ ...located, spec: { ...spec, intervalMs: parseDuration(spec.interval) } });
        break;
      }
    }
  }
  return result;
}

function locate(object: KubernetesObject, file: string) {
  // Flux objects are namespaced; a manifest without a namespace lands in the default one.
  const metadata = object.metadata;
  const withNamespace =
    typeof metadata === "object" && metadata !== null
      ? { ...object, metadata: { ...metadata, namespace: metadata.namespace ?? "default" } }
      : object;
  const { name, namespace, subject } = checkedMetadata(withNamespace, String(object.kind), file);
  const located: Located = { name, namespace, file };
  return { located, where: { file, object: subject } };
}

function checkPolicy(build: () => unknown, where: { file: string; object: string; field: string }): void {
  try {
    build();
  } catch (error) {
    if (error instanceof PolicyError) throw new ManifestError(where, error.message);
    throw error;
  }
}
