// The dry-run diff comment on a pull request: per cluster and Kustomization, what would be created, changed
// (collapsible YAML diffs) and pruned. One comment per PR, found again by a hidden marker.
import { type RunResult, runSucceeded } from "../../reconcile/result.js";
import { cell, changeTable, helmAndSourceTables } from "./check-run-report.js";
import { type Block, COMMENT_LIMIT, fitBlocks } from "./markdown-budget.js";
import { helmReleaseLine, kustomizationLine, runLine } from "./summary-line.js";

export const DIFF_COMMENT_MARKER = "<!-- gitops-bot:dry-run-diff -->";

export interface ClusterDiff {
  cluster: string;
  /** The run, absent when the cluster could not be diffed at all (not allowed, unreachable). */
  run?: RunResult;
  error?: string;
}

/** A fenced block that cannot be closed early by backticks inside the diff. */
function fence(text: string, lang: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = "`".repeat(longest + 1);
  return `${ticks}${lang}\n${text.trimEnd()}\n${ticks}`;
}

function clusterBlocks(d: ClusterDiff): Block[] {
  if (!d.run) return [{ text: `### ❌ ${d.cluster}\n\n${cell(d.error ?? "not diffed")}` }];
  const run = d.run;
  const blocks: Block[] = [
    {
      text: `### ${!runSucceeded(run) ? "❌" : "🔍"} ${d.cluster} — ${runLine(run)}`,
    },
  ];
  for (const e of run.errors) blocks.push({ text: `> ❌ ${cell(e)}` });
  if (run.kustomizations.length > 0) blocks.push({ text: changeTable(run) });
  const helmTables = helmAndSourceTables(run);
  if (helmTables) blocks.push({ text: helmTables });
  for (const h of run.helmReleases ?? []) {
    const title = `**HelmRelease/${h.namespace}/${h.name}**: ${helmReleaseLine(h, true)}`;
    const changed = h.changes.filter((c) => c.action !== "unchanged");
    if (h.status === "Ready" && changed.length === 0) continue;
    blocks.push({ text: `${title}${h.errors.map((e) => `\n- ${e}`).join("")}` });
    for (const c of changed) {
      const label = `${c.action === "deleted" ? "🗑️ remove" : c.action === "created" ? "➕ create" : "✏️ change"} \`${c.subject}\``;
      blocks.push({
        text: c.diff
          ? `<details><summary>${label}</summary>\n\n${fence(c.diff, "diff")}\n\n</details>`
          : `- ${label}`,
        fallback: `- ${label} (diff omitted)`,
      });
    }
  }
  for (const k of run.kustomizations) {
    const created = k.changes.filter((c) => c.action === "created");
    const changed = k.changes.filter((c) => c.action === "configured");
    const pruned = k.changes.filter((c) => c.action === "deleted");
    if (k.status !== "Ready") {
      blocks.push({
        text: `**Kustomization/${k.namespace}/${k.name}**: ${kustomizationLine(k, true)}${k.errors.map((e) => `\n- ${e}`).join("")}`,
      });
    }
    if (created.length + changed.length + pruned.length === 0) continue;
    blocks.push({ text: `**Kustomization/${k.namespace}/${k.name}**` });
    for (const c of created) {
      // Why an object is only previewed (its Namespace or CRD is created in the same change) belongs in the title.
      const title = `➕ create \`${c.subject}\`${c.reason ? ` — ${c.reason}` : ""}`;
      blocks.push({
        text: c.diff
          ? `<details><summary>${title}</summary>\n\n${fence(c.diff, "diff")}\n\n</details>`
          : `- ${title}`,
        fallback: `- ${title} (diff omitted)`,
      });
    }
    for (const c of changed) {
      // An object the Kustomization does not own has no diff, only the reason ("exists, not managed here, …").
      const title = `✏️ change \`${c.subject}\`${c.diff || !c.reason ? "" : ` — ${c.reason}`}`;
      blocks.push({
        text: c.diff
          ? `<details><summary>${title}</summary>\n\n${fence(c.diff, "diff")}\n\n</details>`
          : `- ${title}`,
        fallback: `- ${title} (diff omitted)`,
      });
    }
    for (const c of pruned) blocks.push({ text: `- 🗑️ prune \`${c.subject}\`` });
  }
  return blocks;
}

export function diffComment(opts: { baseSha: string; headSha: string; clusters: ClusterDiff[] }): string {
  const header = [
    DIFF_COMMENT_MARKER,
    "## gitops-bot dry-run",
    `Server-side dry-run of \`${opts.headSha.slice(0, 7)}\` (head) against the live clusters; base \`${opts.baseSha.slice(0, 7)}\`. Secret values are masked.`,
  ].join("\n");
  const blocks: Block[] = [{ text: header }];
  if (opts.clusters.length === 0)
    blocks.push({ text: "No cluster in `.github/gitops.yaml` tracks the base branch of this pull request." });
  for (const c of opts.clusters) blocks.push(...clusterBlocks(c));
  return fitBlocks(
    blocks,
    COMMENT_LIMIT,
    (shortened, omitted) =>
      `\n> ℹ️ This diff is larger than a GitHub comment (65,536 characters): ${shortened} diff(s) shown as one line, ${omitted} section(s) left out. Run \`gitops-bot diff <cluster-path>\` for the whole diff.`,
  );
}
