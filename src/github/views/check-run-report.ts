// The check run of one cluster reconcile: a markdown table of the ChangeSet per Kustomization, then failures
// and the objects that changed, within GitHub's size limit.
import type { RunGraph } from "../../reconcile/events.js";
import type { KustomizationResult, RunResult } from "../../reconcile/result.js";
import { runSucceeded } from "../../reconcile/result.js";
import { dependencyGraph, type NodeOutcome, outcomeOf } from "./dependency-graph.js";
import { type Block, CHECK_RUN_TEXT_LIMIT, fitBlocks } from "./markdown-budget.js";
import { helmReleaseLine, kustomizationLine, runLine } from "./summary-line.js";

// `cancelled`: a run cut off by the bot's shutdown (re-run at the next start).
export type CheckConclusion = "success" | "failure" | "skipped" | "cancelled";

export interface CheckRunReport {
  title: string;
  summary: string;
  conclusion: CheckConclusion;
}

/** Escapes text for a markdown table cell. */
export function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

const icon: Record<KustomizationResult["status"], string> = {
  Ready: "✅",
  Failed: "❌",
  DependencyNotReady: "⏭️",
  Suspended: "⏸️",
};

/** Rows for HelmReleases, and the sources the run fetched with their revisions. */
export function helmAndSourceTables(run: RunResult): string {
  const parts: string[] = [];
  const releases = run.helmReleases ?? [];
  if (releases.length > 0) {
    parts.push(
      [
        "| HelmRelease | Status | Action | Chart | Revision | Took |",
        "| --- | --- | --- | --- | ---: | ---: |",
        ...releases.map(
          (h) =>
            `| ${icon[h.status]} \`HelmRelease/${h.namespace}/${h.name}\` | ${h.status} | ${h.action} | ${cell(`${h.chart ?? ""} ${h.version ?? ""}`.trim())} | ${h.revision ?? ""} | ${(h.durationMs / 1000).toFixed(1)} s |`,
        ),
      ].join("\n"),
    );
  }
  const sources = run.sources ?? [];
  if (sources.length > 0) {
    parts.push(
      `Sources: ${sources
        .map(
          (src) =>
            `\`${src.kind}/${src.namespace}/${src.name}\` ${src.error ? `❌ ${cell(src.error)}` : `@ \`${src.revision ?? "?"}\``}`,
        )
        .join(", ")}`,
    );
  }
  return parts.join("\n\n");
}

export function changeTable(run: RunResult): string {
  const count = (k: KustomizationResult, a: string) => k.changes.filter((c) => c.action === a).length;
  const rows = run.kustomizations.map(
    (k) =>
      `| ${icon[k.status]} \`Kustomization/${k.namespace}/${k.name}\` | ${k.status} | ${count(k, "created")} | ${count(k, "configured")} | ${count(k, "deleted")} | ${count(k, "unchanged")} | ${(k.durationMs / 1000).toFixed(1)} s |`,
  );
  return [
    "| Kustomization | Status | Created | Configured | Pruned | Unchanged | Took |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
  ].join("\n");
}

function failureBlocks(run: RunResult): Block[] {
  const blocks: Block[] = run.errors.map((e) => ({ text: `> ❌ ${cell(e)}` }));
  for (const h of run.helmReleases ?? []) {
    if (h.status === "Ready" || h.status === "Suspended") continue;
    const lines = [
      `**HelmRelease/${h.namespace}/${h.name}** — ${helmReleaseLine(h)}`,
      ...h.errors.map((e) => `- ${e}`),
    ];
    blocks.push({ text: lines.join("\n"), fallback: lines[0] });
  }
  for (const k of run.kustomizations) {
    if (k.status === "Ready" || k.status === "Suspended") continue;
    const lines = [`**Kustomization/${k.namespace}/${k.name}** — ${kustomizationLine(k)}`];
    for (const e of k.errors) lines.push(`- ${e}`);
    for (const u of k.unhealthy) lines.push(`- ${u.subject}: ${u.status} — ${u.message}`);
    if (k.notApplied.length > 0) lines.push(`- not applied: ${k.notApplied.join(", ")}`);
    blocks.push({ text: lines.join("\n"), fallback: lines[0] });
  }
  return blocks;
}

function changeBlocks(run: RunResult): Block[] {
  const blocks: Block[] = [];
  for (const k of run.kustomizations) {
    const changed = k.changes.filter((c) => c.action !== "unchanged");
    if (changed.length === 0) continue;
    const lines = changed.map((c) => `- ${c.action} \`${c.subject}\`${c.reason ? ` (${c.reason})` : ""}`);
    blocks.push({
      text: `<details><summary>Kustomization/${k.namespace}/${k.name}: ${changed.length} changed</summary>\n\n${lines.join("\n")}\n\n</details>`,
      fallback: `- Kustomization/${k.namespace}/${k.name}: ${changed.length} changed (list omitted)`,
    });
  }
  return blocks;
}

/** Each object's outcome by subject, for the graph. */
export function runOutcomes(run: RunResult): Map<string, NodeOutcome> {
  const out = new Map<string, NodeOutcome>();
  for (const k of run.kustomizations) out.set(`Kustomization/${k.namespace}/${k.name}`, outcomeOf(k.status));
  for (const h of run.helmReleases ?? [])
    out.set(`HelmRelease/${h.namespace}/${h.name}`, outcomeOf(h.status));
  return out;
}

function graphBlocks(run: RunResult, graph: RunGraph | undefined): Block[] {
  if (!graph) return [];
  const drawing = dependencyGraph(graph, runOutcomes(run));
  const note = drawing.note ? `> ℹ️ ${drawing.note}` : undefined;
  if (!drawing.markdown) return note ? [{ text: note }] : [];
  return [
    {
      text: `${drawing.markdown}${note ? `\n${note}` : ""}\n`,
      fallback: "> ℹ️ The dependency graph is left out: the report is at GitHub's size limit.",
    },
  ];
}

export function checkRunReport(
  cluster: string,
  sha: string,
  run: RunResult,
  graph?: RunGraph,
): CheckRunReport {
  const ok = runSucceeded(run);
  const failures = failureBlocks(run);
  const blocks: Block[] = [
    {
      text: `Cluster **${cluster}**, path \`${run.clusterPath}\`, commit \`${sha.slice(0, 7)}\`: ${runLine(run)}.\n`,
    },
    ...graphBlocks(run, graph),
    { text: changeTable(run) },
    ...(helmAndSourceTables(run) ? [{ text: `\n${helmAndSourceTables(run)}` }] : []),
    ...(failures.length > 0 ? [{ text: "\n### Failures" }, ...failures] : []),
    ...(changeBlocks(run).length > 0 ? [{ text: "\n### Changes" }, ...changeBlocks(run)] : []),
  ];
  const summary = fitBlocks(
    blocks,
    CHECK_RUN_TEXT_LIMIT,
    (shortened, omitted) =>
      `\n> ℹ️ Cut to GitHub's 65,535-character limit: ${shortened} section(s) shortened, ${omitted} left out. \`gitops-bot reconcile\` or the bot's log has the full list.`,
  );
  return { title: `${cluster}: ${runLine(run)}`, summary, conclusion: ok ? "success" : "failure" };
}
