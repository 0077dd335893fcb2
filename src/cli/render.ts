// Plain-text views of a run for terminals and CI logs.
import type { ChangeSetEntry } from "../cluster/ssa/changeset.js";
import type { KustomizationResult, RunResult } from "../reconcile/result.js";
import { hintFor } from "./hints.js";
import { printable } from "./printable.js";
import { noStyle, type Style } from "./style.js";

const symbols: Record<ChangeSetEntry["action"], string> = {
  created: "+",
  configured: "~",
  deleted: "-",
  unchanged: "=",
  skipped: "!",
};

export interface RenderOptions {
  showUnchanged?: boolean;
  showDiff?: boolean;
  style?: Style;
}

function actionColour(action: ChangeSetEntry["action"], style: Style): (text: string) => string {
  if (action === "created") return style.ok;
  if (action === "deleted" || action === "skipped") return style.failed;
  if (action === "configured") return style.changed;
  return style.muted;
}

function statusColour(status: KustomizationResult["status"], style: Style): (text: string) => string {
  if (status === "Ready") return style.ok;
  if (status === "Failed") return style.failed;
  return style.muted;
}

/** A YAML diff's + and - lines in green and red. */
function colourDiff(diff: string, style: Style): string {
  if (style === noStyle) return diff;
  return diff
    .split("\n")
    .map((l) => (/^\s*\+/.test(l) ? style.ok(l) : /^\s*-/.test(l) ? style.failed(l) : l))
    .join("\n");
}

function indent(text: string, by: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((l) => by + l)
    .join("\n");
}

export function renderKustomization(k: KustomizationResult, opts: RenderOptions = {}): string {
  const style = opts.style ?? noStyle;
  const p = printable;
  const lines = [
    `► Kustomization ${p(`${k.namespace}/${k.name}`)}${k.path ? ` (${p(k.path)})` : ""}: ${statusColour(k.status, style)(k.status)}${k.message ? ` — ${p(k.message)}` : ""}`,
  ];
  for (const c of k.changes) {
    if (c.action === "unchanged" && !opts.showUnchanged) continue;
    const colour = actionColour(c.action, style);
    lines.push(
      `  ${colour(`${symbols[c.action]} ${c.action.padEnd(10)}`)} ${p(c.subject)}${c.reason ? ` (${p(c.reason)})` : ""}`,
    );
    if (opts.showDiff && c.diff) lines.push(indent(colourDiff(p(c.diff), style), "      "));
  }
  for (const e of k.errors) lines.push(`  ${style.failed("✗")} ${p(e)}`);
  if (k.notApplied.length > 0) lines.push(`  not applied: ${p(k.notApplied.join(", "))}`);
  const hint = hintFor(k.message);
  if (hint) lines.push(`  ${style.bold(p(hint))}`);
  return lines.join("\n");
}

export function renderRun(run: RunResult, opts: RenderOptions = {}): string {
  const style = opts.style ?? noStyle;
  const parts = run.errors.map((e) => `${style.failed("✗")} ${printable(e)}`);
  for (const k of run.kustomizations) parts.push(renderKustomization(k, opts));
  if (parts.length === 0) parts.push("no Kustomizations found");
  return `${parts.join("\n")}\n`;
}
