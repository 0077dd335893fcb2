// Flux `Kustomization` (kustomize.toolkit.fluxcd.io/v1): schema, defaults and validation. Field names and
// meanings follow Flux's API reference; docs/flux-compatibility.md says where we differ.
import type { KubernetesObject } from "@kubernetes/client-node";
import { z } from "zod";
import { durationSchema as duration, parseDuration } from "./duration.js";
import { ManifestError } from "./errors.js";
import { kustomizeImage, kustomizePatch, targetSelector } from "./kustomize-fields.js";
import {
  checked,
  checkedMetadata,
  namespaceSchema,
  objectNameSchema,
  pathDepth,
  reconcilerNameError,
  relativePathError,
  resourceNameError,
} from "./names.js";
import { parseSpec } from "./parse-spec.js";

export const KUSTOMIZATION_GROUP = "kustomize.toolkit.fluxcd.io";

const varName = /^[_a-zA-Z][_a-zA-Z0-9]*$/;

const crossNamespaceRef = z.strictObject({
  name: objectNameSchema,
  namespace: namespaceSchema.optional(),
  /** Flux's CEL readiness expression: accepted, not evaluated (the built-in readiness check applies). */
  readyExpr: z.string().optional(),
});

const localRef = z.strictObject({ name: objectNameSchema });

const repositoryPath = checked((value) => relativePathError(value));
/** Components are relative to spec.path; how far up they may go is checked against it after parsing. */
const componentPath = checked((value) => relativePathError(value, { maxUp: Number.POSITIVE_INFINITY }));

export const kustomizationSpecSchema = z.strictObject({
  interval: duration,
  retryInterval: duration.optional(),
  timeout: duration.optional(),
  path: repositoryPath.optional(),
  prune: z.boolean(),
  sourceRef: z.strictObject({
    kind: z.enum(["GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"]),
    name: objectNameSchema,
    namespace: namespaceSchema.optional(),
    apiVersion: z.string().optional(),
  }),
  targetNamespace: namespaceSchema.optional(),
  namePrefix: z.string().max(200).optional(),
  nameSuffix: z.string().max(200).optional(),
  commonMetadata: z
    .strictObject({
      labels: z.record(z.string(), z.string()).optional(),
      annotations: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  patches: z.array(kustomizePatch).optional(),
  images: z.array(kustomizeImage).optional(),
  components: z.array(componentPath).optional(),
  postBuild: z
    .strictObject({
      substitute: z
        .record(z.string(), z.string())
        .refine((vars) => Object.keys(vars).every((k) => varName.test(k)), {
          message: "variable names must match ^[_a-zA-Z][_a-zA-Z0-9]*$",
        })
        .optional(),
      substituteFrom: z
        .array(
          z.strictObject({
            kind: z.enum(["ConfigMap", "Secret"]),
            name: objectNameSchema,
            optional: z.boolean().optional(),
          }),
        )
        .optional(),
    })
    .optional(),
  dependsOn: z.array(crossNamespaceRef).optional(),
  suspend: z.boolean().optional(),
  wait: z.boolean().optional(),
  healthChecks: z
    .array(
      z.strictObject({
        apiVersion: z.string().optional(),
        kind: z.string().min(1),
        name: checked(resourceNameError),
        namespace: namespaceSchema.optional(),
      }),
    )
    .optional(),
  force: z.boolean().optional(),
  serviceAccountName: objectNameSchema.optional(),
  kubeConfig: z
    .strictObject({
      secretRef: z.strictObject({ name: objectNameSchema, key: z.string().optional() }).optional(),
      configMapRef: localRef.optional(),
    })
    .optional(),
  decryption: z
    .strictObject({
      provider: z.string(),
      secretRef: localRef.optional(),
      serviceAccountName: objectNameSchema.optional(),
    })
    .optional(),
  // Valid Flux fields gitops-bot accepts and does not act on (docs/flux-compatibility.md).
  deletionPolicy: z.enum(["MirrorPrune", "Delete", "WaitForTermination", "Orphan"]).optional(),
  ignoreMissingComponents: z.boolean().optional(),
  healthCheckExprs: z
    .array(
      z.strictObject({
        apiVersion: z.string(),
        kind: z.string(),
        current: z.string(),
        inProgress: z.string().optional(),
        failed: z.string().optional(),
      }),
    )
    .optional(),
  driftIgnoreRules: z
    .array(z.strictObject({ paths: z.array(z.string()), target: targetSelector.optional() }))
    .optional(),
});

export type KustomizationSpec = z.infer<typeof kustomizationSpecSchema>;

export interface FluxKustomization {
  name: string;
  namespace: string;
  spec: KustomizationSpec;
  /** Repository-relative file the object was read from. */
  file: string;
  intervalMs: number;
  /** Flux: `timeout` defaults to `interval`. */
  timeoutMs: number;
}

export function isKustomization(obj: KubernetesObject): boolean {
  return obj.kind === "Kustomization" && (obj.apiVersion ?? "").startsWith(`${KUSTOMIZATION_GROUP}/`);
}

export function kustomizationKey(ks: { name: string; namespace: string }): string {
  return `${ks.namespace}/${ks.name}`;
}

/** Validates a Flux Kustomization object read from `file`; errors name the file, object and field. */
export function parseKustomization(obj: KubernetesObject, file: string): FluxKustomization {
  const { name, namespace, subject } = checkedMetadata(obj, "Kustomization", file, reconcilerNameError);
  if (obj.apiVersion !== `${KUSTOMIZATION_GROUP}/v1`) {
    throw new ManifestError(
      { file, object: subject, field: "apiVersion" },
      `${obj.apiVersion} is not supported; use ${KUSTOMIZATION_GROUP}/v1 (flux migrate updates older versions)`,
    );
  }
  const spec = parseSpec(kustomizationSpecSchema, obj, file, subject);
  const maxUp = pathDepth(spec.path ?? "");
  (spec.components ?? []).forEach((component, i) => {
    const why = relativePathError(component, { maxUp });
    if (why) throw new ManifestError({ file, object: subject, field: `spec.components[${i}]` }, why);
  });
  if (spec.decryption && spec.decryption.provider !== "sops") {
    throw new ManifestError(
      { file, object: subject, field: "spec.decryption.provider" },
      `"${spec.decryption.provider}" is not supported (only sops)`,
    );
  }
  if (spec.kubeConfig && !spec.kubeConfig.secretRef) {
    throw new ManifestError(
      {
        file,
        object: subject,
        field: spec.kubeConfig.configMapRef ? "spec.kubeConfig.configMapRef" : "spec.kubeConfig",
      },
      "only spec.kubeConfig.secretRef is supported (a kubeconfig Secret for a server the operator lists in security.remoteClusters)",
    );
  }
  const intervalMs = parseDuration(spec.interval);
  return {
    name,
    namespace,
    spec,
    file,
    intervalMs,
    timeoutMs: spec.timeout ? parseDuration(spec.timeout) : intervalMs,
  };
}
