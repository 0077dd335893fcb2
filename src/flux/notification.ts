// Flux notifications (notification.toolkit.fluxcd.io): Provider and Alert. Schemas and validation; field names
// and meanings follow Flux's API reference for v1beta3, and v1beta2 is read the same way (its only extra
// field, Provider `spec.interval`, is accepted and ignored). The provider types are Flux's, plus `email`, which
// Flux has not and gitops-bot adds (docs/notifications.md). Which types gitops-bot can deliver to is the
// notifier's business (src/notify/providers), not the schema's.
import type { KubernetesObject } from "@kubernetes/client-node";
import { RE2JS } from "re2js";
import { z } from "zod";
import { durationSchema, parseDuration } from "./duration.js";
import { ManifestError } from "./errors.js";
import {
  checked,
  checkedMetadata,
  namespaceSchema,
  objectNameError,
  objectNameSchema,
  quoted,
} from "./names.js";
import { parseSpec } from "./parse-spec.js";

export const NOTIFICATION_GROUP = "notification.toolkit.fluxcd.io";
export type NotificationKind = "Provider" | "Alert";
export const notificationKinds: readonly NotificationKind[] = ["Provider", "Alert"];
const versions = ["v1beta3", "v1beta2"];

/** Flux's Provider types (the API's enum), and gitops-bot's `email`. */
export const providerTypes = [
  "slack",
  "discord",
  "msteams",
  "rocket",
  "generic",
  "generic-hmac",
  "github",
  "gitlab",
  "gitea",
  "bitbucketserver",
  "bitbucket",
  "azuredevops",
  "googlechat",
  "googlepubsub",
  "webex",
  "sentry",
  "azureeventhub",
  "telegram",
  "lark",
  "matrix",
  "opsgenie",
  "alertmanager",
  "grafana",
  "githubdispatch",
  "githubpullrequestcomment",
  "gitlabmergerequestcomment",
  "giteapullrequestcomment",
  "pagerduty",
  "datadog",
  "nats",
  "zulip",
  "otel",
  "email",
] as const;
export type ProviderType = (typeof providerTypes)[number];

/** The kinds an Alert's eventSources may name (Flux's enum). */
export const eventSourceKinds = [
  "Bucket",
  "GitRepository",
  "Kustomization",
  "HelmRelease",
  "HelmChart",
  "HelmRepository",
  "ImageRepository",
  "ImagePolicy",
  "ImageUpdateAutomation",
  "OCIRepository",
  "ArtifactGenerator",
  "ExternalArtifact",
  "FluxInstance",
  "ResourceSet",
  "ResourceSetInputProvider",
] as const;

/** The longest regular expression accepted in inclusionList/exclusionList (RE2 bounds its program too). */
export const maxPatternLength = 4096;

const localRef = z.strictObject({ name: objectNameSchema });
const maxText = (n: number) => z.string().max(n, { message: `must be at most ${n} characters` });

export const providerSpecSchema = z.strictObject({
  type: z.string().superRefine((value, ctx) => {
    if (!(providerTypes as readonly string[]).includes(value)) {
      ctx.addIssue({
        code: "custom",
        message: `${quoted(value)} is not a provider type (one of ${providerTypes.join(", ")})`,
      });
    }
  }),
  /** v1beta2 only; Flux ignores it since v1beta3. */
  interval: durationSchema.optional(),
  channel: maxText(2048).optional(),
  username: maxText(2048).optional(),
  address: maxText(2048).optional(),
  timeout: durationSchema.optional(),
  proxy: maxText(2048)
    .regex(/^(http|https):\/\/.*$/, { message: "must be an http:// or https:// URL" })
    .optional(),
  secretRef: localRef.optional(),
  certSecretRef: localRef.optional(),
  suspend: z.boolean().optional(),
  // Valid Flux fields gitops-bot accepts and does not act on (docs/flux-compatibility.md).
  proxySecretRef: localRef.optional(),
  serviceAccountName: objectNameSchema.optional(),
  commitStatusExpr: z.string().optional(),
});

const eventSourceName = checked((value) => (value === "*" ? undefined : objectNameError(value)));

const labelKey =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const matchLabels = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  for (const [key, value] of Object.entries(labels)) {
    if (key.length > 316 || !labelKey.test(key)) {
      ctx.addIssue({ code: "custom", path: [key], message: `${quoted(key)} is not a valid label key` });
    } else if (value.length > 63 || !labelValue.test(value)) {
      ctx.addIssue({ code: "custom", path: [key], message: `${quoted(value)} is not a valid label value` });
    }
  }
});

/** A Go (RE2) regular expression, checked by compiling it with re2js: the same syntax Flux accepts. */
const goRegexp = z.string().superRefine((pattern, ctx) => {
  if (pattern.length > maxPatternLength) {
    ctx.addIssue({ code: "custom", message: `is longer than ${maxPatternLength} characters` });
    return;
  }
  try {
    RE2JS.compile(pattern);
  } catch (error) {
    ctx.addIssue({
      code: "custom",
      message: `${quoted(pattern)} is not a valid regular expression: ${(error as Error).message}`,
    });
  }
});

export const alertSpecSchema = z.strictObject({
  providerRef: localRef,
  eventSeverity: z.enum(["info", "error"]).default("info"),
  eventSources: z
    .array(
      z.strictObject({
        apiVersion: z.string().optional(),
        kind: z.enum(eventSourceKinds),
        name: eventSourceName,
        namespace: namespaceSchema.optional(),
        matchLabels: matchLabels.optional(),
      }),
    )
    .min(1, { message: "must name at least one event source" }),
  inclusionList: z.array(goRegexp).optional(),
  exclusionList: z.array(goRegexp).optional(),
  eventMetadata: z.record(z.string(), z.string()).optional(),
  summary: maxText(255).optional(),
  suspend: z.boolean().optional(),
});

export type ProviderSpec = z.infer<typeof providerSpecSchema> & { type: ProviderType };
export type AlertSpec = z.infer<typeof alertSpecSchema>;
export type AlertEventSource = AlertSpec["eventSources"][number];

interface NotificationBase {
  name: string;
  namespace: string;
  /** Repository-relative file the object was read from. */
  file: string;
  /** `Kind/namespace/name`. */
  subject: string;
}
export interface FluxProvider extends NotificationBase {
  kind: "Provider";
  spec: ProviderSpec;
  /** spec.timeout, when set. */
  timeoutMs: number | undefined;
}
export interface FluxAlert extends NotificationBase {
  kind: "Alert";
  spec: AlertSpec;
}
export type FluxNotificationObject = FluxProvider | FluxAlert;

export function isNotificationObject(obj: KubernetesObject): boolean {
  return (
    notificationKinds.includes(obj.kind as NotificationKind) &&
    (obj.apiVersion ?? "").startsWith(`${NOTIFICATION_GROUP}/`)
  );
}

/** Validates a Provider or Alert read from `file`; errors name the file, object and field. */
export function parseNotificationObject(obj: KubernetesObject, file: string): FluxNotificationObject {
  const kind = obj.kind as NotificationKind;
  if (!notificationKinds.includes(kind)) {
    throw new ManifestError({ file, field: "kind" }, `${quoted(String(obj.kind))} is not Provider or Alert`);
  }
  const { name, namespace, subject } = checkedMetadata(obj, kind, file);
  const version = (obj.apiVersion ?? "").split("/")[1] ?? "";
  if (!(obj.apiVersion ?? "").startsWith(`${NOTIFICATION_GROUP}/`) || !versions.includes(version)) {
    throw new ManifestError(
      { file, object: subject, field: "apiVersion" },
      `${obj.apiVersion} is not supported; use ${NOTIFICATION_GROUP}/v1beta3`,
    );
  }
  const base = { name, namespace, file, subject };
  if (kind === "Provider") {
    const spec = parseSpec(providerSpecSchema, obj, file, subject) as ProviderSpec;
    return { kind, ...base, spec, timeoutMs: spec.timeout ? parseDuration(spec.timeout) : undefined };
  }
  return { kind, ...base, spec: parseSpec(alertSpecSchema, obj, file, subject) };
}

/** Parses only Providers; anything else is an error naming the kind. */
export function parseProvider(obj: KubernetesObject, file: string): FluxProvider {
  const parsed = parseNotificationObject(obj, file);
  if (parsed.kind !== "Provider") {
    throw new ManifestError({ file, object: parsed.subject, field: "kind" }, "is not a Provider");
  }
  return parsed;
}

/** Parses only Alerts; anything else is an error naming the kind. */
export function parseAlert(obj: KubernetesObject, file: string): FluxAlert {
  const parsed = parseNotificationObject(obj, file);
  if (parsed.kind !== "Alert") {
    throw new ManifestError({ file, object: parsed.subject, field: "kind" }, "is not an Alert");
  }
  return parsed;
}
