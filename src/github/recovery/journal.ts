// GitHub as the journal of runs (no Redis needed): the check runs this app left open — queued or in progress
// when the process died — or completed as cancelled by a shutdown are the runs that did not end. Pure: which
// of them to re-run (their commit is still the head of the branch) and which to close as superseded.
import { INTERRUPTED_CONCLUSION } from "./interrupted.js";

/** A check run of this app as GitHub lists it. */
export interface JournalCheckRun {
  id: number;
  name: string;
  head_sha: string;
  status: string;
  conclusion?: string | null;
}

export type RecoveryAction =
  /** Re-run the commit on the cluster; `reuse` is the open check run the run reports on (none when cancelled). */
  | { kind: "rerun"; cluster: string; sha: string; reuse?: number }
  /** Close: the branch moved on. `open` is the check run to complete as skipped (none when already cancelled). */
  | { kind: "supersede"; cluster: string; sha: string; head: string; open?: number };

/** `gitops / <cluster>` → cluster, for the clusters the branch drives; undefined for any other check run. */
export function clusterOfCheckRun(name: string, clusters: readonly string[]): string | undefined {
  const match = /^gitops \/ ([a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(name);
  const cluster = match?.[1];
  return cluster !== undefined && clusters.includes(cluster) ? cluster : undefined;
}

/**
 * What to do about the unfinished runs among `checkRuns` (the latest per name, on the recent commits of a
 * branch whose head is `head`). A cluster is re-run at most once, and only at the head.
 */
export function recoveryActions(
  checkRuns: readonly JournalCheckRun[],
  clusters: readonly string[],
  head: string,
): RecoveryAction[] {
  const actions: RecoveryAction[] = [];
  const rerun = new Set<string>();
  for (const run of checkRuns) {
    const cluster = clusterOfCheckRun(run.name, clusters);
    if (!cluster) continue;
    const open = run.status !== "completed";
    if (!open && run.conclusion !== INTERRUPTED_CONCLUSION) continue;
    if (run.head_sha === head) {
      if (rerun.has(cluster)) continue;
      rerun.add(cluster);
      actions.push({ kind: "rerun", cluster, sha: head, ...(open ? { reuse: run.id } : {}) });
    } else {
      actions.push({
        kind: "supersede",
        cluster,
        sha: run.head_sha,
        head,
        ...(open ? { open: run.id } : {}),
      });
    }
  }
  return actions;
}
