// The typed outcome of a run: one result per Kustomization, the view-independent thing every report renders.
import type { ChangeSetEntry } from "../cluster/ssa/changeset.js";
import type { UnhealthyObject } from "../cluster/ssa/wait.js";
import type {
  HelmReleaseAction,
  HelmReleaseResult,
  ReconcileInterval,
  ReconcileStatus,
} from "../helm/result.js";

export type { HelmReleaseAction, HelmReleaseResult, ReconcileInterval, ReconcileStatus };

export type KustomizationStatus = ReconcileStatus;

export interface KustomizationResult {
  name: string;
  namespace: string;
  path: string;
  file: string;
  status: KustomizationStatus;
  /** One line for people: why it failed or was skipped. */
  message: string;
  changes: ChangeSetEntry[];
  /** Detailed failures, each starting with the object's subject. */
  errors: string[];
  unhealthy: UnhealthyObject[];
  /** Objects that were not applied because the run stopped before them. */
  notApplied: string[];
  durationMs: number;
  healthMs?: number;
  /** For a source other than this repository: `Kind/namespace/name@revision`. */
  source?: string;
  /** Its spec.interval and retryInterval, for the schedule (absent for Kustomizations that left Git). */
  interval?: ReconcileInterval;
}

/** A source the run fetched, with the revision it resolved to (Flux's `branch@sha1:…`, `tag@sha256:…`). */
export interface SourceResult {
  kind: string;
  name: string;
  namespace: string;
  url: string;
  revision?: string;
  error?: string;
}

export interface RunResult {
  clusterPath: string;
  dryRun: boolean;
  kustomizations: KustomizationResult[];
  /** One result per HelmRelease (present when the tree has any, or had any in a previous run). */
  helmReleases?: HelmReleaseResult[];
  /** Sources other than the repository itself that the run fetched. */
  sources?: SourceResult[];
  /** Errors that stop the whole run before any Kustomization: unreadable cluster path, dependency cycle. */
  errors: string[];
  durationMs: number;
}

export function runSucceeded(run: RunResult): boolean {
  const ok = (status: KustomizationStatus) => status === "Ready" || status === "Suspended";
  return (
    run.errors.length === 0 &&
    run.kustomizations.every((k) => ok(k.status)) &&
    (run.helmReleases ?? []).every((h) => ok(h.status))
  );
}

export function runHasChanges(run: RunResult): boolean {
  const changed = (changes: ChangeSetEntry[]) =>
    changes.some((c) => c.action === "created" || c.action === "configured" || c.action === "deleted");
  return (
    run.kustomizations.some((k) => changed(k.changes)) ||
    (run.helmReleases ?? []).some((h) => h.action !== "unchanged" && h.action !== "none") ||
    (run.helmReleases ?? []).some((h) => changed(h.changes))
  );
}
