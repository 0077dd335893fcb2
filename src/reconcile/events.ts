// The event stream of a run. Every step (a run started, the plan, an object started and finished, the run
// finished or stopped) is one `RunEvent`; each carries a Flux-shaped `ReconcileEvent` (the fields of Flux's
// `eventv1.Event`, so Alerts and receivers built for Flux can read it) plus the typed data reporters render.
// Reporters (statuses, check runs, comments, notifications, logs) subscribe to the stream; the engine knows
// nothing about them. No Secret value enters an event: results are scrubbed where they are made, and every
// message is passed through the credential scrubber here once more.

import { type Drift, describeDrift } from "../cluster/ssa/drift.js";
import {
  type EventReason,
  type EventSeverity,
  eventReasons,
  eventTimestamp,
  type InvolvedObject,
  type NotifyEvent,
  reportingControllers,
} from "../notify/event.js";
import { scrubCredentials } from "../util/secret-scrub.js";
import type { HelmReleaseResult, KustomizationResult, RunResult } from "./result.js";

// The Flux event itself (fields, reasons, controllers) is the notification library's: one type for every
// reporter and every Provider.
export {
  type EventReason,
  type EventSeverity,
  eventReasons,
  eventTimestamp,
  type InvolvedObject,
  reportingControllers,
} from "../notify/event.js";

/** What every event of a run says about where it happened. */
export interface EventMetadata {
  /** Flux's revision, e.g. `main@sha1:0123…`. */
  revision?: string;
  commit?: string;
  cluster?: string;
  repository?: string;
}

/** One fact about one object, shaped as Flux's event (fluxcd/pkg apis/event `Event`). */
export type ReconcileEvent = NotifyEvent;

/** The one spelling of a subject everywhere: `Kind/namespace/name`. */
export function subjectOf(object: InvolvedObject): string {
  return `${object.kind}/${object.namespace}/${object.name}`;
}

/** A node of the run's dependency graph: a Kustomization or HelmRelease, by subject. */
export interface GraphNode extends InvolvedObject {
  kind: "Kustomization" | "HelmRelease";
  subject: string;
}

/** `from` must be ready before `to` runs (dependsOn, or the Kustomization whose build contained a HelmRelease). */
export interface GraphEdge {
  from: string;
  to: string;
}

export interface RunGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export type ObjectResult =
  | { kind: "Kustomization"; result: KustomizationResult }
  | { kind: "HelmRelease"; result: HelmReleaseResult };

export type RunEvent =
  /** A job started a run (before sources are fetched); `dryRun` for pull request previews. */
  | { type: "run-started"; dryRun: boolean; event: ReconcileEvent }
  /** The tree is planned: what will be reconciled, in which order. */
  | { type: "planned"; graph: RunGraph; event: ReconcileEvent }
  | { type: "object-started"; subject: string; event: ReconcileEvent }
  | { type: "object-finished"; subject: string; outcome: ObjectResult; event: ReconcileEvent }
  /** A fact about an object that is not a Kustomization or HelmRelease (an image scan's result). */
  | { type: "notice"; event: ReconcileEvent }
  /** The engine returned a result (which may hold failures). */
  | { type: "run-finished"; result: RunResult; event: ReconcileEvent }
  /**
   * The run stopped without a result: not allowed, superseded, the commit could not be fetched, the engine
   * broke. `conclusion` says whether that is a failure or a skip (superseded is not a failure).
   */
  | {
      type: "run-stopped";
      conclusion: "failure" | "skipped";
      /** The commit status state, where it differs from the conclusion's (a refused job is an `error`). */
      state?: "error" | "failure";
      message: string;
      /** Longer text for the check run, where there is more to say than the message. */
      detail?: string;
      event: ReconcileEvent;
    };

export type RunEventSink = (event: RunEvent) => void;

/** The repository's own source: run-level facts are about it, as source-controller's are. */
export function selfSource(name = "flux-system"): InvolvedObject {
  return { kind: "GitRepository", namespace: "flux-system", name };
}

/** A job starts a run of `clusterPath`. */
export function runStarted(dryRun: boolean, clusterPath: string, metadata?: EventMetadata): RunEvent {
  return {
    type: "run-started",
    dryRun,
    event: createEvent({
      involvedObject: selfSource(),
      severity: "info",
      reason: eventReasons.progressing,
      message: `${dryRun ? "dry-run" : "reconciliation"} of ${clusterPath} started`,
      reportingController: reportingControllers.kustomize,
      ...(metadata ? { metadata } : {}),
    }),
  };
}

/** A run stops without a result; see RunEvent `run-stopped`. */
export function runStopped(
  stop: { conclusion: "failure" | "skipped"; state?: "error" | "failure"; message: string; detail?: string },
  metadata?: EventMetadata,
): RunEvent {
  const failed = stop.conclusion === "failure" || stop.state !== undefined;
  return {
    type: "run-stopped",
    ...stop,
    event: createEvent({
      involvedObject: selfSource(),
      severity: failed ? "error" : "info",
      reason: failed ? eventReasons.reconciliationFailed : eventReasons.progressing,
      message: stop.message,
      reportingController: reportingControllers.kustomize,
      ...(metadata ? { metadata } : {}),
    }),
  };
}

/** Flux caps an event's message at this many characters. */
const MAX_MESSAGE = 39_000;

export function createEvent(input: {
  involvedObject: InvolvedObject;
  severity: EventSeverity;
  reason: EventReason;
  message: string;
  reportingController: string;
  metadata?: EventMetadata;
}): ReconcileEvent {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(input.metadata ?? {})) if (value) metadata[key] = value;
  const scrubbed = scrubCredentials(input.message);
  return {
    involvedObject: {
      kind: input.involvedObject.kind,
      namespace: input.involvedObject.namespace,
      name: input.involvedObject.name,
    },
    severity: input.severity,
    reason: input.reason,
    message: scrubbed.length > MAX_MESSAGE ? `${scrubbed.slice(0, MAX_MESSAGE - 1)}…` : scrubbed,
    metadata,
    timestamp: eventTimestamp(),
    reportingController: input.reportingController,
  };
}

function controllerOf(kind: string): string {
  return kind === "HelmRelease" ? reportingControllers.helm : reportingControllers.kustomize;
}

/** The Flux event for an object that starts reconciling. */
export function startedEvent(object: InvolvedObject, metadata?: EventMetadata): ReconcileEvent {
  return createEvent({
    involvedObject: object,
    severity: "info",
    reason: eventReasons.progressing,
    message: "reconciliation in progress",
    reportingController: controllerOf(object.kind),
    ...(metadata ? { metadata } : {}),
  });
}

const helmSuccessReasons: Partial<Record<HelmReleaseResult["action"], EventReason>> = {
  installed: eventReasons.installSucceeded,
  upgraded: eventReasons.upgradeSucceeded,
  "rolled back": eventReasons.rollbackSucceeded,
  uninstalled: eventReasons.uninstallSucceeded,
  "drift corrected": eventReasons.driftDetected,
};

/** The reason Flux would give for an object's outcome. */
export function outcomeReason(outcome: ObjectResult): EventReason {
  const r = outcome.result;
  if (r.status === "DependencyNotReady") return eventReasons.dependencyNotReady;
  if (outcome.kind === "HelmRelease") {
    if (r.status === "Ready") {
      return helmSuccessReasons[outcome.result.action] ?? eventReasons.reconciliationSucceeded;
    }
    if (r.status === "Failed") {
      const text = `${r.message} ${outcome.result.errors.join(" ")}`;
      if (/\bupgrade\b/i.test(text)) return eventReasons.upgradeFailed;
      if (/\binstall\b/i.test(text)) return eventReasons.installFailed;
      if (/\bsource\b|\bchart\b.*\b(fetch|pull|download)/i.test(text)) return eventReasons.artifactFailed;
    }
  } else if (r.status === "Failed") {
    if (outcome.result.unhealthy.length > 0) return eventReasons.healthCheckFailed;
    if (/\b(kustomize build|build failed|post-build substitution)\b/i.test(r.message)) {
      return eventReasons.buildFailed;
    }
    if (/\bsource\b.*\b(fetch|not found|failed)|cannot fetch/i.test(r.message)) {
      return eventReasons.artifactFailed;
    }
  }
  return r.status === "Failed" ? eventReasons.reconciliationFailed : eventReasons.reconciliationSucceeded;
}

/** The Flux event for an object's outcome. A suspended object gets an info event saying so. */
export function finishedEvent(outcome: ObjectResult, metadata?: EventMetadata): ReconcileEvent {
  const r = outcome.result;
  const failed = r.status === "Failed";
  const message =
    r.status === "Suspended"
      ? "reconciliation is suspended"
      : r.message || (r.status === "Ready" ? "reconciliation finished" : r.status);
  return createEvent({
    involvedObject: { kind: outcome.kind, namespace: r.namespace, name: r.name },
    severity: failed ? "error" : "info",
    reason: outcomeReason(outcome),
    message,
    reportingController: controllerOf(outcome.kind),
    ...(metadata ? { metadata } : {}),
  });
}

/**
 * The Flux event for the objects of a Kustomization that drifted from Git (cluster/ssa/drift.ts): one event
 * listing each (fields and who changed them, never values), an error when a drift was left in place.
 */
export function driftEvent(outcome: ObjectResult, metadata?: EventMetadata): ReconcileEvent | undefined {
  const drifted = outcome.result.changes.filter((c) => c.drift);
  if (drifted.length === 0) return undefined;
  const r = outcome.result;
  const left = drifted.some((c) => c.drift?.action === "left as it is");
  return createEvent({
    involvedObject: { kind: outcome.kind, namespace: r.namespace, name: r.name },
    severity: left ? "error" : "info",
    reason: eventReasons.driftDetected,
    message: `drift from Git: ${drifted.map((c) => describeDrift(c.subject, c.drift as Drift)).join("\n")}`,
    reportingController: controllerOf(outcome.kind),
    ...(metadata ? { metadata } : {}),
  });
}

/** The subject of an object result. */
export function outcomeSubject(outcome: ObjectResult): string {
  return subjectOf({ kind: outcome.kind, namespace: outcome.result.namespace, name: outcome.result.name });
}

/** Calls `sink` and never lets it break the caller: a reporter's failure is its own. */
export function safeSink(sink: RunEventSink | undefined, onError?: (err: unknown) => void): RunEventSink {
  if (!sink) return () => {};
  return (event) => {
    try {
      sink(event);
    } catch (err) {
      onError?.(err);
    }
  };
}
