// What reconciling one HelmRelease produced. The status union is every reconciler's (Kustomizations too); it
// lives here, below reconcile/, so that helm/ never imports back from the run loop.
import type { ChangeSetEntry } from "../cluster/ssa/changeset.js";

export type ReconcileStatus =
  /** applied (or, in a dry run, diffed) and healthy */
  | "Ready"
  /** build, apply, prune or health check failed */
  | "Failed"
  /** not attempted: a dependency failed */
  | "DependencyNotReady"
  | "Suspended";

export type HelmReleaseAction =
  | "installed"
  | "upgraded"
  | "unchanged"
  | "rolled back"
  | "uninstalled"
  | "drift corrected"
  | "none";

/** How often the object asks to be reconciled (Flux's spec.interval and spec.retryInterval), for the schedule. */
export interface ReconcileInterval {
  everyMs: number;
  /** After a failure; Flux's default is the interval. */
  retryMs: number;
}

export interface HelmReleaseResult {
  name: string;
  namespace: string;
  file: string;
  releaseName: string;
  releaseNamespace: string;
  /** Chart name and version the release was (or, in a dry run, would be) made from. */
  chart?: string;
  version?: string;
  /** The chart source and its revision, e.g. `HelmRepository/flux-system/podinfo@sha256:…`. */
  source?: string;
  status: ReconcileStatus;
  /** What happened to the Helm release in this run. */
  action: HelmReleaseAction;
  /** One line for people: what happened, or why it failed or was skipped. */
  message: string;
  /** The Helm release revision after the run. */
  revision?: number;
  /** Object-level changes: the rendered-manifest diff in dry runs, drift found or corrected, uninstalls. */
  changes: ChangeSetEntry[];
  /** Detailed failures, remediation steps included. */
  errors: string[];
  durationMs: number;
  /**
   * Failures counted across runs for the current desired state (Flux's status.installFailures and
   * upgradeFailures), and which action's retries are used up; absent when there are none.
   */
  remediation?: {
    installFailures: number;
    upgradeFailures: number;
    retriesExhausted?: "install" | "upgrade";
  };
  /** Its spec.interval, for the schedule (absent for releases whose HelmRelease left Git). */
  interval?: ReconcileInterval;
}
