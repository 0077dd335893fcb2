// Flux's kustomize types (fluxcd/pkg apis/kustomize), shared by a Kustomization's `patches` / `images` and a
// HelmRelease's `postRenderers[].kustomize`.
import { z } from "zod";

/** kustomize.Selector: which objects a patch targets. */
export const targetSelector = z.strictObject({
  group: z.string().optional(),
  version: z.string().optional(),
  kind: z.string().optional(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  annotationSelector: z.string().optional(),
  labelSelector: z.string().optional(),
});

/** kustomize.Patch: a strategic-merge or JSON6902 patch and its target. */
export const kustomizePatch = z.strictObject({ patch: z.string().min(1), target: targetSelector.optional() });

/** kustomize.Image: an image override. */
export const kustomizeImage = z.strictObject({
  name: z.string().min(1),
  newName: z.string().optional(),
  newTag: z.string().optional(),
  digest: z.string().optional(),
});
