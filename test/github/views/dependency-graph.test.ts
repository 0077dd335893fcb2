import { describe, expect, test } from "vitest";
import {
  dependencyGraph,
  GRAPH_NODE_LIMIT,
  mermaidLabel,
  type NodeOutcome,
  outcomeOf,
} from "../../../src/github/views/dependency-graph.js";
import type { GraphNode, RunGraph } from "../../../src/reconcile/events.js";

const node = (kind: GraphNode["kind"], name: string, namespace = "flux-system"): GraphNode => ({
  kind,
  namespace,
  name,
  subject: `${kind}/${namespace}/${name}`,
});
const ks = (name: string) => node("Kustomization", name);

function chain(...names: string[]): RunGraph {
  const nodes = names.map(ks);
  const edges = nodes.slice(1).map((n, i) => ({ from: nodes[i]!.subject, to: n.subject }));
  return { nodes, edges };
}

const outcomes = (entries: Record<string, NodeOutcome>) =>
  new Map(Object.entries(entries).map(([name, o]) => [`Kustomization/flux-system/${name}`, o]));

describe("mermaidLabel", () => {
  test.each([
    ["Kustomization/flux-system/apps", "Kustomization/flux-system/apps"],
    ['a"b', "a#34;b"],
    ["x]y", "x#93;y"],
    ["<b>bold</b>", "#60;b#62;bold#60;/b#62;"],
    ["a`b", "a#96;b"],
    ["#quot;", "#35;quot#59;"],
    ["line\nbreak", "line#10;break"],
    ["a|b{c}", "a#124;b#123;c#125;"],
  ])("escapes %j as %j", (input, expected) => {
    expect(mermaidLabel(input)).toBe(expected);
  });
});

describe("outcomeOf", () => {
  test.each([
    ["Ready", "ready"],
    ["Failed", "failed"],
    ["DependencyNotReady", "not-run"],
    ["Suspended", "not-run"],
    [undefined, "not-run"],
  ] as const)("%s is %s", (status, outcome) => {
    expect(outcomeOf(status)).toBe(outcome);
  });
});

describe("dependencyGraph", () => {
  test.each([
    [
      "a failed dependency and what it held back",
      chain("infra-controllers", "infra-configs", "apps"),
      outcomes({ "infra-controllers": "failed", "infra-configs": "not-run", apps: "not-run" }),
      [
        "```mermaid",
        "flowchart LR",
        '  n0["✗ Kustomization/flux-system/infra-controllers"]:::failed',
        '  n1["⏸ Kustomization/flux-system/infra-configs"]:::notrun',
        '  n2["⏸ Kustomization/flux-system/apps"]:::notrun',
        "  n0 --> n1",
        "  n1 --> n2",
      ],
    ],
    [
      "everything ready",
      chain("infra", "apps"),
      outcomes({ infra: "ready", apps: "ready" }),
      [
        '  n0["✓ Kustomization/flux-system/infra"]:::ready',
        '  n1["✓ Kustomization/flux-system/apps"]:::ready',
        "  n0 --> n1",
      ],
    ],
    [
      "a HelmRelease inside its Kustomization, never reached",
      {
        nodes: [ks("apps"), node("HelmRelease", "podinfo", "apps")],
        edges: [{ from: "Kustomization/flux-system/apps", to: "HelmRelease/apps/podinfo" }],
      },
      outcomes({ apps: "ready" }),
      ['  n1["⏸ HelmRelease/apps/podinfo"]:::notrun', "  n0 --> n1"],
    ],
  ])("draws %s", (_what, graph, marks, lines) => {
    const drawing = dependencyGraph(graph, marks);
    for (const line of lines) expect(drawing.markdown.split("\n")).toContain(line);
    expect(drawing.markdown.endsWith("```")).toBe(true);
    expect(drawing.note).toBeUndefined();
  });

  test.each([
    ["no objects", { nodes: [], edges: [] }],
    ["one object", { nodes: [ks("apps")], edges: [] }],
  ])("draws nothing for %s", (_what, graph) => {
    expect(dependencyGraph(graph, new Map())).toEqual({ markdown: "" });
  });

  test("a name cannot break out of its label or the fenced block", () => {
    // Names are validated DNS names, but the renderer does not rely on it.
    const hostile = node("Kustomization", 'x"]\n```\n<script>', "ns");
    const drawing = dependencyGraph({ nodes: [ks("a"), hostile], edges: [] }, new Map());
    const body = drawing.markdown.split("\n").slice(1, -1).join("\n");
    expect(body).not.toContain("```");
    expect(body).not.toContain("<script>");
    expect(body).toContain('n1["⏸ Kustomization/ns/x#34;#93;#10;#96;#96;#96;#10;#60;script#62;"]');
  });

  test.each([
    [
      "collapses a large graph to what did not get ready and what it waited for",
      GRAPH_NODE_LIMIT + 20,
      (i: number) => (i === 5 ? "failed" : i === 6 ? "not-run" : "ready"),
      (d: ReturnType<typeof dependencyGraph>, n: number) => {
        // k4 (the failed one's dependency), k5 (failed), k6 (held back).
        expect(d.markdown.match(/\["/g)).toHaveLength(3);
        expect(d.markdown).toContain("✗ Kustomization/flux-system/k5");
        expect(d.markdown).toContain("✓ Kustomization/flux-system/k4");
        expect(d.note).toBe(
          `${n - 3} of ${n} objects, all ready, are not drawn: the graph shows what did not get ready and what it waited for.`,
        );
      },
    ],
    [
      "leaves out a large graph where everything is ready",
      GRAPH_NODE_LIMIT + 1,
      () => "ready",
      (d: ReturnType<typeof dependencyGraph>, n: number) => {
        expect(d.markdown).toBe("");
        expect(d.note).toMatch(
          new RegExp(`^The dependency graph \\(${n} objects, ${n - 1} dependencies\\) is too large`),
        );
      },
    ],
    [
      "leaves out a large graph where too much failed to draw even collapsed",
      GRAPH_NODE_LIMIT * 2 + 2,
      () => "failed",
      (d: ReturnType<typeof dependencyGraph>) => {
        expect(d.markdown).toBe("");
        expect(d.note).toMatch(/too large to draw here \(limit 40 objects\)/);
      },
    ],
  ] as const)("%s", (_what, size, outcome, check) => {
    const names = Array.from({ length: size }, (_, i) => `k${i}`);
    const marks = new Map(names.map((n, i) => [`Kustomization/flux-system/${n}`, outcome(i) as NodeOutcome]));
    check(dependencyGraph(chain(...names), marks), size);
  });
});
