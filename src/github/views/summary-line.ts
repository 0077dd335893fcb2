// One line per result for commit status descriptions: "12 configured, 3 created, 1 pruned, healthy in 41 s".
import type { HelmReleaseResult, KustomizationResult, RunResult } from "../../reconcile/result.js";

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
      // `/gitops suspend` says who and when; spec.suspend says nothing more than this.
      return k.message.startsWith("suspended by")
        ? clip(k.message, STATUS_DESCRIPTION_LIMIT)
        : "suspended: not reconciled";
    default:
      return clip(`${k.status}: ${k.message}`, STATUS_DESCRIPTION_LIMIT);
  }
}

/** A HelmRelease for a status description: "upgraded to podinfo 6.5.0 (revision 3)" or why it failed. */
export function helmReleaseLine(h: HelmReleaseResult, dryRun = false): string {
  if (h.status === "Suspended") return "suspended: not reconciled";
  if (h.status !== "Ready") return clip(`${h.status}: ${h.message}`, STATUS_DESCRIPTION_LIMIT);
  const chart = h.chart ? ` ${h.chart}${h.version ? ` ${h.version}` : ""}` : "";
  const revision = h.revision !== undefined && !dryRun ? ` (revision ${h.revision})` : "";
  return clip(`${dryRun ? `would be ${h.action}` : h.action}${chart}${revision}`, STATUS_DESCRIPTION_LIMIT);
}

export function runLine(run: RunResult): string {
  if (run.errors.length > 0) return clip(run.errors[0] ?? "failed", STATUS_DESCRIPTION_LIMIT);
  const bad = (s: string) => s === "Failed" || s === "DependencyNotReady";
  const failed = [
    ...run.kustomizations.filter((k) => bad(k.status)).map((k) => `Kustomization/${k.namespace}/${k.name}`),
    ...(run.helmReleases ?? [])
      .filter((h) => bad(h.status))
      .map((h) => `HelmRelease/${h.namespace}/${h.name}`),
  ];
  const n = run.kustomizations.length;
  const releases = run.helmReleases?.length ?? 0;
  if (failed.length > 0) {
    return clip(`${failed.length} of ${n + releases} failed: ${failed.join(", ")}`, STATUS_DESCRIPTION_LIMIT);
  }
  const what = `${n} Kustomization${n === 1 ? "" : "s"}${releases ? ` and ${releases} HelmRelease${releases === 1 ? "" : "s"}` : ""}`;
  return clip(`${what} ready in ${seconds(run.durationMs)}`, STATUS_DESCRIPTION_LIMIT);
}
