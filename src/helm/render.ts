// Plain-text view of HelmRelease and source results, beside the Kustomization lines of `renderRun`.
import type { RunResult } from "../reconcile/result.js";

const symbols: Record<string, string> = {
  created: "+",
  configured: "~",
  deleted: "-",
  unchanged: "=",
  skipped: "!",
};

export function renderHelmReleases(run: RunResult, opts: { showDiff?: boolean } = {}): string {
  const lines: string[] = [];
  for (const s of run.sources ?? []) {
    lines.push(`► ${s.kind} ${s.namespace}/${s.name}: ${s.error ? `✗ ${s.error}` : s.revision}`);
  }
  for (const h of run.helmReleases ?? []) {
    const chart = h.chart ? ` (${h.chart}@${h.version})` : "";
    lines.push(`► HelmRelease ${h.namespace}/${h.name}${chart}: ${h.status} — ${h.message}`);
    for (const c of h.changes) {
      if (c.action === "unchanged") continue;
      lines.push(
        `  ${symbols[c.action] ?? "?"} ${c.action.padEnd(10)} ${c.subject}${c.reason ? ` (${c.reason})` : ""}`,
      );
      if (opts.showDiff && c.diff)
        lines.push(
          ...c.diff
            .trimEnd()
            .split("\n")
            .map((l) => `      ${l}`),
        );
    }
    if (h.remediation) {
      const { installFailures, upgradeFailures, retriesExhausted } = h.remediation;
      const exhausted = retriesExhausted ? ` (${retriesExhausted} retries exhausted)` : "";
      lines.push(
        `  ↻ failures counted across runs: install ${installFailures}, upgrade ${upgradeFailures}${exhausted}`,
      );
    }
    for (const e of h.errors) if (e !== h.message) lines.push(`  ✗ ${e}`);
  }
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}
