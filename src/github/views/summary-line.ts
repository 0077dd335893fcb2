// One line per result for commit status descriptions: "12 configured, 3 created, 1 pruned, healthy in 41 s".
import type { KustomizationResult, RunResult } from "../../reconcile/result.js";

/** GitHub cuts commit status descriptions at 140 characters; cut them ourselves, visibly. */
export const STATUS_DESCRIPTION_LIMIT = 140;

export function clip(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

export function changeCounts(k: KustomizationResult): string {
  const count = (action: string) => k.changes.filter((c) => c.action === action).length;
  const parts = [
    [count("configured"), "configured"],
    [count("created"), "created"],
    [count("deleted"), "pruned"],
    [count("skipped"), "skipped"],
  ]
    .filter(([n]) => (n as number) > 0)
    .map(([n, word]) => `${n} ${word}`);
  if (parts.length === 0) return count("unchanged") > 0 ? `${count("unchanged")} unchanged` : "no objects";
  return parts.join(", ");
}

export function kustomizationLine(k: KustomizationResult, dryRun = false): string {
  switch (k.status) {
    case "Ready": {
      const health = k.healthMs === undefined ? "" : `, healthy in ${seconds(k.healthMs)}`;
      return clip(`${changeCounts(k)}${dryRun ? " (dry-run)" : ""}${health}`, STATUS_DESCRIPTION_LIMIT);
    }
    case "Suspended":
      return "suspended: not reconciled";
    default:
      return clip(`${k.status}: ${k.message}`, STATUS_DESCRIPTION_LIMIT);
  }
}

export function runLine(run: RunResult): string {
  if (run.errors.length > 0) return clip(run.errors[0] ?? "failed", STATUS_DESCRIPTION_LIMIT);
  const failed = run.kustomizations.filter((k) => k.status === "Failed" || k.status === "DependencyNotReady");
  const n = run.kustomizations.length;
  if (failed.length > 0) {
    return clip(
      `${failed.length} of ${n} Kustomizations failed: ${failed.map((k) => k.name).join(", ")}`,
      STATUS_DESCRIPTION_LIMIT,
    );
  }
  return clip(
    `${n} Kustomization${n === 1 ? "" : "s"} ready in ${seconds(run.durationMs)}`,
    STATUS_DESCRIPTION_LIMIT,
  );
}
