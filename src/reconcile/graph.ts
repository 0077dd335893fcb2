// dependsOn as a graph: missing dependencies and cycles are errors that name the Kustomizations involved.
export interface DependencyNode {
  key: string;
  dependsOn: string[];
}

export class DependencyError extends Error {
  override name = "DependencyError";
}

/** Checks that every dependency exists and there is no cycle; returns the keys in a valid order. */
export function dependencyOrder(nodes: DependencyNode[]): string[] {
  const byKey = new Map(nodes.map((n) => [n.key, n]));
  for (const node of nodes) {
    for (const dep of node.dependsOn) {
      if (!byKey.has(dep))
        throw new DependencyError(`Kustomization ${node.key} depends on ${dep}, which does not exist`);
    }
  }
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (key: string, path: string[]) => {
    const s = state.get(key);
    if (s === "done") return;
    if (s === "visiting") {
      const cycle = [...path.slice(path.indexOf(key)), key];
      throw new DependencyError(`dependency cycle: ${cycle.join(" -> ")}`);
    }
    state.set(key, "visiting");
    for (const dep of byKey.get(key)?.dependsOn ?? []) visit(dep, [...path, key]);
    state.set(key, "done");
    order.push(key);
  };
  for (const node of [...nodes].sort((a, b) => a.key.localeCompare(b.key))) visit(node.key, []);
  return order;
}
