import { describe, expect, it } from "vitest";
import { DependencyError, dependencyOrder } from "../../src/reconcile/graph.js";

describe("dependsOn ordering", () => {
  it("orders dependencies before dependents", () => {
    const order = dependencyOrder([
      { key: "ns/apps", dependsOn: ["ns/infra"] },
      { key: "ns/infra", dependsOn: ["ns/crds"] },
      { key: "ns/crds", dependsOn: [] },
    ]);
    expect(order.indexOf("ns/crds")).toBeLessThan(order.indexOf("ns/infra"));
    expect(order.indexOf("ns/infra")).toBeLessThan(order.indexOf("ns/apps"));
  });

  it("names the Kustomizations of a cycle", () => {
    expect(() =>
      dependencyOrder([
        { key: "ns/a", dependsOn: ["ns/b"] },
        { key: "ns/b", dependsOn: ["ns/a"] },
      ]),
    ).toThrow(/dependency cycle: ns\/a -> ns\/b -> ns\/a/);
  });

  it("names a missing dependency", () => {
    expect(() => dependencyOrder([{ key: "ns/a", dependsOn: ["ns/ghost"] }])).toThrow(DependencyError);
    expect(() => dependencyOrder([{ key: "ns/a", dependsOn: ["ns/ghost"] }])).toThrow(
      /ns\/a depends on ns\/ghost/,
    );
  });
});
