// The typed outcome of a run: one result per Kustomization, the view-independent thing every report renders.
import type { ChangeSetEntry } from "../cluster/ssa/changeset.js";
import type { UnhealthyObject } from "../cluster/ssa/wait.js";

export type KustomizationStatus =
  /** applied (or, in a dry run, diffed) and healthy */
  | "Ready"
  /** build, apply, prune or health check failed */
  | "Failed"
  /** not attempted: a dependency failed */
  | "DependencyNotReady"
  | "Suspended";

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
}

export interface RunResult {
  clusterPath: string;
  dryRun: boolean;
  kustomizations: KustomizationResult[];
  /** Errors that stop the whole run before any Kustomization: unreadable cluster path, dependency cycle. */
  errors: string[];
  durationMs: number;
}

export function runSucceeded(run: RunResult): boolean {
  return (
    run.errors.length === 0 &&
    run.kustomizations.every((k) => k.status === "Ready" || k.status === "Suspended")
  );
}

export function runHasChanges(run: RunResult): boolean {
  return run.kustomizations.some((k) =>
    k.changes.some((c) => c.action === "created" || c.action === "configured" || c.action === "deleted"),
  );
}
