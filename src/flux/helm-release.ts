// Flux `HelmRelease` (helm.toolkit.fluxcd.io/v2): schema, defaults and validation. Field names and meanings
// follow Flux's API reference; docs/flux-compatibility.md says where we differ.
import { createHash } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import { z } from "zod";
import { durationSchema as duration, parseDuration } from "./duration.js";
import { ManifestError } from "./errors.js";
import { MAX_VALUES_FILES } from "./helm-chart.js";
import { kustomizeImage, kustomizePatch, targetSelector } from "./kustomize-fields.js";
import {
  chartNameError,
  chartVersionError,
  checked,
  checkedMetadata,
  dataKeyError,
  namespaceSchema,
  objectNameSchema,
  quoted,
  reconcilerNameError,
  relativePathError,
  releaseNameError,
} from "./names.js";
import { parseSpec } from "./parse-spec.js";

export const HELM_GROUP = "helm.toolkit.fluxcd.io";

const crdsPolicy = z.enum(["Skip", "Create", "CreateReplace"]);

const actionStrategy = z.strictObject({
  name: z.enum(["RemediateOnFailure", "RetryOnFailure"]),
  retryInterval: duration.optional(),
});
const serverSideApply = z.enum(["enabled", "disabled", "auto"]);
const stringMap = z.record(z.string(), z.string());

const remediation = z.strictObject({
  retries: z.number().int().optional(),
  ignoreTestFailures: z.boolean().optional(),
  remediateLastFailure: z.boolean().optional(),
});

export const helmReleaseSpecSchema = z.strictObject({
  chart: z
    .strictObject({
      spec: z.strictObject({
        chart: z.string().min(1),
        version: checked(chartVersionError).optional(),
        sourceRef: z.strictObject({
          kind: z.enum(["HelmRepository", "GitRepository", "Bucket"]),
          name: objectNameSchema,
          namespace: namespaceSchema.optional(),
          apiVersion: z.string().optional(),
        }),
        interval: duration.optional(),
        reconcileStrategy: z.enum(["ChartVersion", "Revision"]).optional(),
        valuesFiles: z.array(z.string()).max(MAX_VALUES_FILES).optional(),
        /** Deprecated in Flux for valuesFiles; merged before them. */
        valuesFile: z.string().optional(),
        ignoreMissingValuesFiles: z.boolean().optional(),
        verify: z.unknown().optional(),
      }),
      metadata: z
        .strictObject({ labels: stringMap.optional(), annotations: stringMap.optional() })
        .optional(),
    })
    .optional(),
  chartRef: z
    .strictObject({
      kind: z.enum(["OCIRepository", "HelmChart", "ExternalArtifact"]),
      name: objectNameSchema,
      namespace: namespaceSchema.optional(),
      apiVersion: z.string().optional(),
    })
    .optional(),
  interval: duration,
  timeout: duration.optional(),
  suspend: z.boolean().optional(),
  releaseName: checked(releaseNameError).optional(),
  targetNamespace: namespaceSchema.optional(),
  storageNamespace: namespaceSchema.optional(),
  dependsOn: z
    .array(
      z.strictObject({
        name: objectNameSchema,
        namespace: namespaceSchema.optional(),
        readyExpr: z.string().optional(),
      }),
    )
    .optional(),
  maxHistory: z.number().int().min(0).optional(),
  serviceAccountName: objectNameSchema.optional(),
  kubeConfig: z
    .strictObject({
      secretRef: z.strictObject({ name: objectNameSchema, key: z.string().optional() }).optional(),
      configMapRef: z.strictObject({ name: objectNameSchema }).optional(),
    })
    .optional(),
  persistentClient: z.boolean().optional(),
  driftDetection: z
    .strictObject({
      mode: z.enum(["enabled", "warn", "disabled"]).optional(),
      ignore: z
        .array(
          z.strictObject({ paths: z.array(z.string().startsWith("/")), target: targetSelector.optional() }),
        )
        .optional(),
    })
    .optional(),
  install: z
    .strictObject({
      timeout: duration.optional(),
      remediation: remediation.optional(),
      disableWait: z.boolean().optional(),
      disableWaitForJobs: z.boolean().optional(),
      disableHooks: z.boolean().optional(),
      disableOpenAPIValidation: z.boolean().optional(),
      disableSchemaValidation: z.boolean().optional(),
      replace: z.boolean().optional(),
      skipCRDs: z.boolean().optional(),
      crds: crdsPolicy.optional(),
      createNamespace: z.boolean().optional(),
      disableTakeOwnership: z.boolean().optional(),
      serverSideApply: z.boolean().optional(),
      strategy: actionStrategy.optional(),
    })
    .optional(),
  upgrade: z
    .strictObject({
      timeout: duration.optional(),
      remediation: remediation.extend({ strategy: z.enum(["rollback", "uninstall"]).optional() }).optional(),
      disableWait: z.boolean().optional(),
      disableWaitForJobs: z.boolean().optional(),
      disableHooks: z.boolean().optional(),
      disableOpenAPIValidation: z.boolean().optional(),
      disableSchemaValidation: z.boolean().optional(),
      force: z.boolean().optional(),
      preserveValues: z.boolean().optional(),
      cleanupOnFail: z.boolean().optional(),
      crds: crdsPolicy.optional(),
      disableTakeOwnership: z.boolean().optional(),
      serverSideApply: serverSideApply.optional(),
      strategy: actionStrategy.optional(),
      chartNameChangeStrategy: z.enum(["InPlaceUpdate", "Reinstall"]).optional(),
    })
    .optional(),
  test: z
    .strictObject({
      enable: z.boolean().optional(),
      timeout: duration.optional(),
      ignoreFailures: z.boolean().optional(),
      // Each name becomes a `--filter name=<name>` argument of helm test (a comma would split it).
      filters: z
        .array(z.strictObject({ name: objectNameSchema, exclude: z.boolean().optional() }))
        .optional(),
    })
    .optional(),
  rollback: z
    .strictObject({
      timeout: duration.optional(),
      disableWait: z.boolean().optional(),
      disableWaitForJobs: z.boolean().optional(),
      disableHooks: z.boolean().optional(),
      recreate: z.boolean().optional(),
      force: z.boolean().optional(),
      cleanupOnFail: z.boolean().optional(),
      serverSideApply: serverSideApply.optional(),
    })
    .optional(),
  uninstall: z
    .strictObject({
      timeout: duration.optional(),
      disableHooks: z.boolean().optional(),
      keepHistory: z.boolean().optional(),
      disableWait: z.boolean().optional(),
      deletionPropagation: z.enum(["background", "foreground", "orphan"]).optional(),
    })
    .optional(),
  valuesFrom: z
    .array(
      z.strictObject({
        kind: z.enum(["ConfigMap", "Secret"]),
        name: objectNameSchema,
        valuesKey: checked(dataKeyError).optional(),
        targetPath: z.string().optional(),
        optional: z.boolean().optional(),
        literal: z.boolean().optional(),
      }),
    )
    .optional(),
  values: z.record(z.string(), z.unknown()).optional(),
  postRenderers: z
    .array(
      z.strictObject({
        kustomize: z
          .strictObject({
            patches: z.array(kustomizePatch).optional(),
            images: z.array(kustomizeImage).optional(),
          })
          .optional(),
      }),
    )
    .optional(),
  commonMetadata: z
    .strictObject({
      labels: z.record(z.string(), z.string()).optional(),
      annotations: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  // Valid Flux fields gitops-bot accepts and does not act on (docs/flux-compatibility.md).
  healthCheckExprs: z
    .array(
      z.strictObject({
        apiVersion: z.string(),
        kind: z.string().optional(),
        current: z.string(),
        inProgress: z.string().optional(),
        failed: z.string().optional(),
      }),
    )
    .optional(),
  postRenderStrategy: z.enum(["nohooks", "combined", "separate"]).optional(),
  waitStrategy: z.strictObject({ name: z.enum(["poller", "legacy"]) }).optional(),
});

export type HelmReleaseSpec = z.infer<typeof helmReleaseSpecSchema>;

export interface FluxHelmRelease {
  name: string;
  namespace: string;
  spec: HelmReleaseSpec;
  /** Repository-relative file the object was read from. */
  file: string;
  /** The Helm release name: spec.releaseName, else `[<targetNamespace>-]<name>` as Flux derives it. */
  releaseName: string;
  /** Where the release's objects go (spec.targetNamespace, else the HelmRelease's namespace). */
  releaseNamespace: string;
  /** Flux: `timeout` defaults to 5m. */
  timeoutMs: number;
  /** Values its parent Kustomization substituted into it from Secrets: masked in everything it reports. */
  substitutedSecrets?: string[];
}

const forbiddenKeys = new Set(["__proto__", "prototype", "constructor"]);

export function isHelmRelease(obj: KubernetesObject): boolean {
  return obj.kind === "HelmRelease" && (obj.apiVersion ?? "").startsWith(`${HELM_GROUP}/`);
}

export function helmReleaseKey(hr: { name: string; namespace: string }): string {
  return `HelmRelease/${hr.namespace}/${hr.name}`;
}

/** Flux's release name: `<targetNamespace>-<name>`, shortened with a hash when longer than 53 characters. */
export function defaultReleaseName(name: string, targetNamespace: string | undefined): string {
  const full = targetNamespace ? `${targetNamespace}-${name}` : name;
  if (full.length <= 53) return full;
  // Flux: the first 40 characters, a dash and the first 12 hex characters of the name's SHA-256.
  return `${full.slice(0, 40)}-${createHash("sha256").update(full).digest("hex").slice(0, 12)}`;
}

/**
 * The values files of a HelmRelease's chart template with the field naming each: the deprecated
 * `spec.chart.spec.valuesFile` first, then `valuesFiles` in order (as Flux merges them).
 */
export function chartValuesFiles(spec: HelmReleaseSpec): { path: string; field: string }[] {
  const chart = spec.chart?.spec;
  if (!chart) return [];
  return [
    ...(chart.valuesFile !== undefined
      ? [{ path: chart.valuesFile, field: "spec.chart.spec.valuesFile" }]
      : []),
    ...(chart.valuesFiles ?? []).map((path, i) => ({ path, field: `spec.chart.spec.valuesFiles[${i}]` })),
  ];
}

/** Validates a Flux HelmRelease object read from `file`; errors name the file, object and field. */
export function parseHelmRelease(obj: KubernetesObject, file: string): FluxHelmRelease {
  const { name, namespace, subject } = checkedMetadata(obj, "HelmRelease", file, reconcilerNameError);
  const where = (field: string) => ({ file, object: subject, field });
  if (obj.apiVersion !== `${HELM_GROUP}/v2`) {
    throw new ManifestError(
      where("apiVersion"),
      `${obj.apiVersion} is not supported; use ${HELM_GROUP}/v2 (flux migrate updates older versions)`,
    );
  }
  const spec = parseSpec(helmReleaseSpecSchema, obj, file, subject);
  if (!spec.chart === !spec.chartRef) {
    throw new ManifestError(where("spec.chart"), "exactly one of spec.chart and spec.chartRef is required");
  }
  if (spec.chart?.spec.sourceRef.kind === "Bucket") {
    throw new ManifestError(where("spec.chart.spec.sourceRef.kind"), "Bucket sources are not supported");
  }
  if (spec.chart) {
    // From a GitRepository the chart is a directory in it; from a HelmRepository, a name in its index.
    const chart = spec.chart.spec.chart;
    const why =
      spec.chart.spec.sourceRef.kind === "GitRepository" ? relativePathError(chart) : chartNameError(chart);
    if (why) throw new ManifestError(where("spec.chart.spec.chart"), why);
  }
  if (spec.chart?.spec.verify) {
    throw new ManifestError(where("spec.chart.spec.verify"), "chart signature verification is not supported");
  }
  for (const { path, field } of chartValuesFiles(spec)) {
    const why = relativePathError(path);
    if (why) throw new ManifestError(where(field), why);
  }
  if (spec.kubeConfig) {
    throw new ManifestError(
      where("spec.kubeConfig"),
      "remote clusters are configured in the operator's cluster list, not per HelmRelease",
    );
  }
  for (const action of ["install", "upgrade"] as const) {
    if (spec[action]?.strategy?.name === "RetryOnFailure") {
      throw new ManifestError(
        where(`spec.${action}.strategy.name`),
        "RetryOnFailure is not supported by gitops-bot: a failed release is remediated as spec." +
          `${action}.remediation says (RemediateOnFailure, the default); remove spec.${action}.strategy`,
      );
    }
  }
  const releaseNamespace = spec.targetNamespace ?? namespace;
  if (spec.storageNamespace && spec.storageNamespace !== releaseNamespace) {
    throw new ManifestError(
      where("spec.storageNamespace"),
      `must equal the release namespace ${releaseNamespace}: the helm binary stores a release in the namespace it installs to`,
    );
  }
  (spec.valuesFrom ?? []).forEach((ref, i) => {
    if (ref.targetPath !== undefined && !/^[^.[\]]+(\.[^.[\]]+|\[\d+\])*$/.test(ref.targetPath)) {
      throw new ManifestError(
        where(`spec.valuesFrom[${i}].targetPath`),
        `${quoted(ref.targetPath)} is not a dotted path like a.b.c or list[0].name`,
      );
    }
    // A values path names keys of plain objects; these would reach JavaScript's prototypes instead.
    const reserved = ref.targetPath?.split(/[.[\]]/).find((part) => forbiddenKeys.has(part));
    if (reserved !== undefined) {
      throw new ManifestError(
        where(`spec.valuesFrom[${i}].targetPath`),
        `${quoted(ref.targetPath as string)} uses the reserved key "${reserved}"`,
      );
    }
  });
  return {
    name,
    namespace,
    spec,
    file,
    releaseName: spec.releaseName ?? defaultReleaseName(name, spec.targetNamespace),
    releaseNamespace,
    timeoutMs: parseDuration(spec.timeout ?? "5m"),
  };
}
