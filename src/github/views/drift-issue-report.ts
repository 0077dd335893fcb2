// The drift issue of one repository × cluster, rendered from a run: a table of the objects that drifted from
// Git (object, Kustomization, fields, who changed them, what the bot did) and their diffs, collapsed. Pure.
// Cells hold text from the cluster (field paths, field manager names): they go in code spans with backticks
// and pipes neutralised, so they cannot mention anyone, open HTML or break the table. Values appear only in
// the diffs, which the engine masked (Secrets) and scrubbed (substituted values) like every other diff.
import type { Drift, DriftManager } from "../../cluster/ssa/drift.js";
import type { RunResult } from "../../reconcile/result.js";
import { type Block, COMMENT_LIMIT, fitBlocks } from "./markdown-budget.js";
import { clip } from "./summary-line.js";

/** Finds the issue again (on a bot's issue, so a person quoting it cannot have theirs taken over). */
export function driftIssueMarker(cluster: string): string {
  return `<!-- gitops-bot:drift cluster=${cluster} -->`;
}

export function driftIssueTitle(cluster: string): string {
  return `Drift on ${cluster}`;
}

export interface DriftRow {
  subject: string;
  /** `namespace/name` of the Kustomization that applies the object. */
  kustomization: string;
  drift: Drift;
  diff?: string;
}

/** Every drifted object of a run, in the order of its Kustomizations. */
export function driftRows(run: RunResult): DriftRow[] {
  const rows: DriftRow[] = [];
  for (const k of run.kustomizations) {
    for (const c of k.changes) {
      if (!c.drift) continue;
      rows.push({
        subject: c.subject,
        kustomization: `${k.namespace}/${k.name}`,
        drift: c.drift,
        ...(c.diff ? { diff: c.diff } : {}),
      });
    }
  }
  return rows;
}

/** Text from the cluster as a table cell: a code span that nothing inside can close or escape. */
export function codeCell(text: string, limit = 120): string {
  const flat = clip(text.replace(/[\r\n\t]+/g, " ").replace(/`/g, "'"), limit);
  return `\`${flat.replace(/\|/g, "\\|")}\``;
}

function managerCell(managers: DriftManager[]): string {
  if (managers.length === 0) return "unknown (no other field manager owns these fields)";
  return managers
    .map(
      (m) =>
        `${codeCell(m.manager, 128)} (${[m.operation, m.time]
          .filter(Boolean)
          .map((x) => plainCell(x as string))
          .join(", ")})`,
    )
    .join("<br>");
}

function plainCell(text: string): string {
  return clip(text.replace(/[\r\n|<>`@]/g, " "), 60);
}

const actionText: Record<Drift["action"], string> = {
  corrected: "corrected: applied Git's version again",
  "left as it is": "left as it is (`drift: report`)",
};

function fieldsCell(drift: Drift): string {
  const listed = drift.fields.map((f) => codeCell(f)).join("<br>");
  return drift.moreFields ? `${listed}<br>and ${drift.moreFields} more` : listed;
}

/** A fenced block that backticks inside the text cannot close early. */
function fence(text: string, lang: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = "`".repeat(longest + 1);
  return `${ticks}${lang}\n${text.trimEnd()}\n${ticks}`;
}

/** Rows in the table at most; the rest are counted. */
export const MAX_DRIFT_ROWS = 200;

/**
 * The issue's body, within GitHub's size limit: the marker and the table's head always (so the issue is found
 * again, however much drifted), then rows, then diffs, as far as they fit; what is left out is counted.
 */
export function driftIssueBody(cluster: string, rows: DriftRow[]): string {
  const head = [
    driftIssueMarker(cluster),
    `Live objects on cluster \`${cluster}\` differ from Git although Git did not change them: they were changed in the cluster.`,
    "",
    "| object | Kustomization | fields | changed by | what the bot did |",
    "| --- | --- | --- | --- | --- |",
  ].join("\n");
  const listed = rows.slice(0, MAX_DRIFT_ROWS);
  const tableRows: Block[] = listed.map((r) => ({
    text: `| ${codeCell(r.subject)} | ${codeCell(r.kustomization)} | ${fieldsCell(r.drift)} | ${managerCell(r.drift.managers)} | ${actionText[r.drift.action]} |`,
  }));
  if (rows.length > listed.length)
    tableRows.push({ text: `| and ${rows.length - listed.length} more objects | | | | |` });
  const diffs: Block[] = listed
    .filter((r) => r.diff)
    .map((r) => ({
      text: `<details><summary>${codeCell(r.subject)}: live → Git</summary>\n\n${fence(r.diff as string, "diff")}\n\n</details>`,
    }));
  const foot =
    "\n_gitops-bot edits this issue while it finds drift on this cluster and closes it at the first reconcile that finds none. To keep a change made in the cluster, commit it to Git._";
  const rest = fitBlocks(
    [...tableRows, { text: "" }, ...diffs, { text: foot }],
    COMMENT_LIMIT - head.length - 1,
    (shortened, omitted) => `\n_${shortened + omitted} rows or diffs left out to fit GitHub's size limit._`,
  );
  return `${head}\n${rest}`;
}

export function driftClosedComment(cluster: string, sha: string): string {
  return `The reconcile of \`${sha.slice(0, 7)}\` found no drift on cluster \`${cluster}\`: every object matches Git. Closing.`;
}
