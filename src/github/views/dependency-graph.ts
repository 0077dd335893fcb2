// The run's dependsOn graph as a Mermaid flowchart, which GitHub renders in check runs: one node per
// Kustomization and HelmRelease, marked by outcome, so "why did apps not deploy?" is answered at a glance
// (`✗ infra-controllers → ⏸ infra-configs → ⏸ apps`). Pure: graph and outcomes in, markdown out.
import type { RunGraph } from "../../reconcile/events.js";
import type { KustomizationStatus } from "../../reconcile/result.js";

export type NodeOutcome = "ready" | "failed" | "not-run";

/** Larger graphs are collapsed to what did not get ready (and what it waited for), or left out. */
export const GRAPH_NODE_LIMIT = 40;
export const GRAPH_EDGE_LIMIT = 120;

const marks: Record<NodeOutcome, string> = { ready: "✓", failed: "✗", "not-run": "⏸" };

export function outcomeOf(status: KustomizationStatus | undefined): NodeOutcome {
  if (status === "Ready") return "ready";
  if (status === "Failed") return "failed";
  // DependencyNotReady, Suspended, or never reached.
  return "not-run";
}

/**
 * Text safe inside a quoted Mermaid label: anything but letters, digits, space and `./:_-` becomes a Mermaid
 * entity code (`#34;`), so no name can close the label, start markup or end the fenced block.
 */
export function mermaidLabel(text: string): string {
  let out = "";
  for (const ch of text) out += /[A-Za-z0-9 ./:_-]/.test(ch) ? ch : `#${ch.codePointAt(0)};`;
  return out;
}

export interface GraphDrawing {
  /** The fenced mermaid block, or "" when there is nothing worth drawing. */
  markdown: string;
  /** Set when nodes were left out, saying how many and why. */
  note?: string;
}

function collapse(graph: RunGraph, outcomes: Map<string, NodeOutcome>): RunGraph | undefined {
  const keep = new Set(graph.nodes.filter((n) => outcomes.get(n.subject) !== "ready").map((n) => n.subject));
  if (keep.size === 0) return undefined;
  // What the objects that did not get ready waited for: where the cause is.
  for (const e of graph.edges) if (keep.has(e.to)) keep.add(e.from);
  const nodes = graph.nodes.filter((n) => keep.has(n.subject));
  const edges = graph.edges.filter((e) => keep.has(e.from) && keep.has(e.to));
  if (nodes.length > GRAPH_NODE_LIMIT || edges.length > GRAPH_EDGE_LIMIT) return undefined;
  return { nodes, edges };
}

export function dependencyGraph(graph: RunGraph, outcomes: Map<string, NodeOutcome>): GraphDrawing {
  if (graph.nodes.length < 2) return { markdown: "" };
  let shown = graph;
  let note: string | undefined;
  if (graph.nodes.length > GRAPH_NODE_LIMIT || graph.edges.length > GRAPH_EDGE_LIMIT) {
    const collapsed = collapse(graph, outcomes);
    if (!collapsed) {
      return {
        markdown: "",
        note: `The dependency graph (${graph.nodes.length} objects, ${graph.edges.length} dependencies) is too large to draw here (limit ${GRAPH_NODE_LIMIT} objects); the tables list every object.`,
      };
    }
    shown = collapsed;
    note = `${graph.nodes.length - collapsed.nodes.length} of ${graph.nodes.length} objects, all ready, are not drawn: the graph shows what did not get ready and what it waited for.`;
  }
  const ids = new Map(shown.nodes.map((n, i) => [n.subject, `n${i}`]));
  const lines = ["```mermaid", "flowchart LR"];
  for (const n of shown.nodes) {
    const outcome = outcomes.get(n.subject) ?? "not-run";
    lines.push(
      `  ${ids.get(n.subject)}["${marks[outcome]} ${mermaidLabel(n.subject)}"]:::${outcome.replace("-", "")}`,
    );
  }
  for (const e of shown.edges) lines.push(`  ${ids.get(e.from)} --> ${ids.get(e.to)}`);
  lines.push(
    "  classDef ready fill:#dafbe1,stroke:#1a7f37,color:#1f2328",
    "  classDef failed fill:#ffebe9,stroke:#cf222e,color:#1f2328",
    "  classDef notrun fill:#eaeef2,stroke:#6e7781,color:#1f2328,stroke-dasharray:4 2",
    "```",
  );
  return { markdown: lines.join("\n"), ...(note ? { note } : {}) };
}
