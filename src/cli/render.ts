// Plain-text views of a run for terminals and CI logs.
import type { ChangeSetEntry } from "../cluster/ssa/changeset.js";
import type { KustomizationResult, RunResult } from "../reconcile/result.js";

const symbols: Record<ChangeSetEntry["action"], string> = {
  created: "+",
  configured: "~",
  deleted: "-",
  unchanged: "=",
  skipped: "!",
};

function indent(text: string, by: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((l) => by + l)
    .join("\n");
}

export function renderKustomization(
  k: KustomizationResult,
  opts: { showUnchanged?: boolean; showDiff?: boolean } = {},
): string {
  const lines = [
    `► Kustomization ${k.namespace}/${k.name}${k.path ? ` (${k.path})` : ""}: ${k.status}${k.message ? ` — ${k.message}` : ""}`,
  ];
  for (const c of k.changes) {
    if (c.action === "unchanged" && !opts.showUnchanged) continue;
    lines.push(
      `  ${symbols[c.action]} ${c.action.padEnd(10)} ${c.subject}${c.reason ? ` (${c.reason})` : ""}`,
    );
    if (opts.showDiff && c.diff) lines.push(indent(c.diff, "      "));
  }
  for (const e of k.errors) lines.push(`  ✗ ${e}`);
  if (k.notApplied.length > 0) lines.push(`  not applied: ${k.notApplied.join(", ")}`);
  return lines.join("\n");
}

export function renderRun(
  run: RunResult,
  opts: { showUnchanged?: boolean; showDiff?: boolean } = {},
): string {
  const parts = run.errors.map((e) => `✗ ${e}`);
  for (const k of run.kustomizations) parts.push(renderKustomization(k, opts));
  if (parts.length === 0) parts.push("no Kustomizations found");
  return `${parts.join("\n")}\n`;
}
