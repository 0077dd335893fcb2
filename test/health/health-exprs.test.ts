// healthCheckExprs: Flux's evaluation order and its edge cases, with the real CEL library.
import { describe, expect, it } from "vitest";
import { compileHealthExprs, HealthExprError } from "../../src/cluster/health-exprs.js";

const assess = compileHealthExprs([
  {
    apiVersion: "example.com/v1",
    kind: "Database",
    inProgress: "has(status.phase) && status.phase == 'Provisioning'",
    failed: "status.conditions.exists(c, c.type == 'Failed' && c.status == 'True')",
    current: "status.conditions.exists(c, c.type == 'Ready' && c.status == 'True') && status.replicas == 3",
  },
]);

const db = (status: Record<string, unknown>, generation = 1) => ({
  apiVersion: "example.com/v1",
  kind: "Database",
  metadata: { name: "db", generation },
  status,
});

describe("healthCheckExprs", () => {
  it.each([
    [
      "current",
      db({ observedGeneration: 1, replicas: 3, conditions: [{ type: "Ready", status: "True" }] }),
      "Current",
    ],
    [
      "failed wins over current",
      db({
        replicas: 3,
        conditions: [
          { type: "Ready", status: "True" },
          { type: "Failed", status: "True" },
        ],
      }),
      "Failed",
    ],
    [
      "inProgress is evaluated first",
      db({ phase: "Provisioning", conditions: [{ type: "Failed", status: "True" }] }),
      "InProgress",
    ],
    ["none true", db({ replicas: 2, conditions: [{ type: "Ready", status: "True" }] }), "InProgress"],
    [
      "observedGeneration behind",
      db({ observedGeneration: 1, replicas: 3, conditions: [{ type: "Ready", status: "True" }] }, 2),
      "InProgress",
    ],
    ["a field the object lacks", db({}), "InProgress"],
  ])("%s", (_name, obj, status) => {
    expect(assess(obj)?.status).toBe(status);
  });

  it("a missing field says which expression and why", () => {
    expect(assess(db({}))?.message).toMatch(/^healthCheckExprs failed \(status\.conditions\.exists/);
  });

  it("other kinds are not assessed by the expressions", () => {
    expect(assess({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" } })).toBeUndefined();
  });

  it("a syntax error names the field", () => {
    expect(() =>
      compileHealthExprs([
        { apiVersion: "v1", kind: "X", current: "true" },
        { apiVersion: "v1", kind: "Y", current: "status.(" },
      ]),
    ).toThrow(
      new HealthExprError(
        "spec.healthCheckExprs[1].current: not a valid CEL expression: <input>:1:7: found . but expecting end of input",
      ),
    );
  });
});

describe("healthCheckExprs cost bounds", () => {
  const compile = (current: string) => () => compileHealthExprs([{ apiVersion: "v1", kind: "X", current }]);
  it("a chain of comprehensions is fine; three nested are refused", () => {
    expect(
      compile("status.conditions.filter(c, c.type == 'Ready').all(c, c.status == 'True')"),
    ).not.toThrow();
    expect(compile("[1,2].all(a, [1,2].all(b, a == b))")).not.toThrow();
    expect(compile("[1].all(a, [1].all(b, [1].all(c, a == c)))")).toThrow(
      "spec.healthCheckExprs[0].current: comprehensions (all, exists, filter, map) nested deeper than 2 are not allowed: their cost multiplies",
    );
  });
  it("long expressions and long literal lists are refused", () => {
    expect(compile(`status.phase == '${"x".repeat(1100)}'`)).toThrow("longer than 1024 characters");
    expect(compile(`status.n in [${Array.from({ length: 65 }, (_, i) => i).join(",")}]`)).toThrow(
      "a list literal of more than 64 elements is not allowed",
    );
  });
});
