// The events every step of a run emits, shaped as Flux's (fluxcd/pkg apis/event `Event`), so that Alerts route
// them as Flux would and receivers built for Flux read the payload they expect. One event is one fact about one
// object: "Kustomization/flux-system/apps failed to reconcile at main@sha1:…". An event never carries a Secret
// value: whoever builds one passes messages that were already scrubbed (results are).
import { subjectOf } from "../flux/names.js";

export type EventSeverity = "info" | "error";

/** The reasons Flux's controllers give, as they spell them; an event may carry any other reason too. */
export const eventReasons = {
  reconciliationSucceeded: "ReconciliationSucceeded",
  reconciliationFailed: "ReconciliationFailed",
  progressing: "Progressing",
  dependencyNotReady: "DependencyNotReady",
  healthCheckFailed: "HealthCheckFailed",
  artifactFailed: "ArtifactFailed",
  buildFailed: "BuildFailed",
  validationFailed: "ValidationFailed",
  pruneFailed: "PruneFailed",
  installSucceeded: "InstallSucceeded",
  installFailed: "InstallFailed",
  upgradeSucceeded: "UpgradeSucceeded",
  upgradeFailed: "UpgradeFailed",
  rollbackSucceeded: "RollbackSucceeded",
  uninstallSucceeded: "UninstallSucceeded",
  testSucceeded: "TestSucceeded",
  testFailed: "TestFailed",
  newArtifact: "NewArtifact",
  driftDetected: "DriftDetected",
  gitOperationFailed: "GitOperationFailed",
  succeeded: "Succeeded",
} as const;
export type EventReason = (typeof eventReasons)[keyof typeof eventReasons] | (string & {});

/** The controllers gitops-bot stands in for, as Flux names them in `reportingController`. */
export const reportingControllers = {
  kustomize: "kustomize-controller",
  helm: "helm-controller",
  source: "source-controller",
  imageReflector: "image-reflector-controller",
  imageAutomation: "image-automation-controller",
} as const;

/** The metadata keys gitops-bot sets, as receivers read them (Flux strips its group prefixes before sending). */
export const metadataKeys = {
  revision: "revision",
  commit: "commit",
  cluster: "cluster",
  repository: "repository",
  summary: "summary",
} as const;

/** Flux caps an event's message at this many characters. */
export const maxMessageLength = 39_000;

/** Object annotations with this prefix become event metadata (Flux: lowest precedence). */
export const eventAnnotationPrefix = "event.toolkit.fluxcd.io/";

export interface InvolvedObject {
  kind: string;
  namespace: string;
  name: string;
  apiVersion?: string;
  uid?: string;
}

export interface NotifyEvent {
  involvedObject: InvolvedObject;
  severity: EventSeverity;
  reason: EventReason;
  message: string;
  /** revision, commit, cluster, repository, summary, …: plain keys, string values. */
  metadata: Record<string, string>;
  /** RFC 3339, seconds precision (as Go's metav1.Time marshals). */
  timestamp: string;
  reportingController: string;
  reportingInstance?: string;
  /** The object's labels, for Alerts' eventSources[].matchLabels. Never sent. */
  labels?: Record<string, string>;
  /** The object's annotations; `event.toolkit.fluxcd.io/<key>` ones become metadata. Never sent. */
  annotations?: Record<string, string>;
}

/** The JSON a `generic` provider posts, field for field as Flux's `eventv1.Event`. */
export interface FluxEventPayload {
  involvedObject: InvolvedObject;
  severity: EventSeverity;
  timestamp: string;
  message: string;
  reason: string;
  metadata?: Record<string, string>;
  reportingController: string;
  reportingInstance?: string;
}

/** The one spelling of an event's subject everywhere: `Kind/namespace/name`. */
export function eventSubject(object: Pick<InvolvedObject, "kind" | "namespace" | "name">): string {
  return subjectOf(object.kind, object.namespace, object.name);
}

/** `2024-05-01T10:00:00Z`: what Go's metav1.Time gives (no fraction). */
export function eventTimestamp(date: Date = new Date()): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

export interface EventInput {
  involvedObject: InvolvedObject;
  severity: EventSeverity;
  reason: EventReason;
  message: string;
  reportingController: string;
  metadata?: Record<string, string | undefined>;
  timestamp?: Date | string;
  reportingInstance?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Builds an event: metadata without empty values, the message capped as Flux caps it, a timestamp. */
export function createEvent(input: EventInput): NotifyEvent {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(input.metadata ?? {})) {
    if (value !== undefined && value !== "") metadata[key] = value;
  }
  const message =
    input.message.length > maxMessageLength
      ? `${input.message.slice(0, maxMessageLength - 1)}…`
      : input.message;
  const timestamp =
    typeof input.timestamp === "string" ? input.timestamp : eventTimestamp(input.timestamp ?? new Date());
  return {
    involvedObject: { ...input.involvedObject },
    severity: input.severity,
    reason: input.reason,
    message,
    metadata,
    timestamp,
    reportingController: input.reportingController,
    ...(input.reportingInstance ? { reportingInstance: input.reportingInstance } : {}),
    ...(input.labels ? { labels: { ...input.labels } } : {}),
    ...(input.annotations ? { annotations: { ...input.annotations } } : {}),
  };
}

/** The event as sent: Flux's fields in Flux's order, labels and annotations left out, metadata only if any. */
export function fluxEventPayload(event: NotifyEvent): FluxEventPayload {
  const { kind, namespace, name, apiVersion, uid } = event.involvedObject;
  return {
    involvedObject: {
      kind,
      namespace,
      name,
      ...(apiVersion ? { apiVersion } : {}),
      ...(uid ? { uid } : {}),
    },
    severity: event.severity,
    timestamp: event.timestamp,
    message: event.message,
    reason: event.reason,
    ...(Object.keys(event.metadata).length > 0 ? { metadata: { ...event.metadata } } : {}),
    reportingController: event.reportingController,
    ...(event.reportingInstance ? { reportingInstance: event.reportingInstance } : {}),
  };
}

/** Metadata keys in the order receivers show them: summary first, then by name (as Flux's Teams card does). */
export function sortedMetadata(metadata: Record<string, string> | undefined): [string, string][] {
  const entries = Object.entries(metadata ?? {});
  return entries.sort(([a], [b]) =>
    a === "summary" ? -1 : b === "summary" ? 1 : a < b ? -1 : a > b ? 1 : 0,
  );
}
