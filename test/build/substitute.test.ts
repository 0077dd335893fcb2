import { describe, expect, it, test } from "vitest";
import { SubstitutionError, substituteObject, substituteText } from "../../src/build/substitute.js";

describe("post-build substitution (Flux semantics)", () => {
  const vars = { cluster: "dev", region: "eu-1", empty: "" };
  test.each([
    ["${cluster}", "dev"],
    ["name-${cluster}-${region}", "name-dev-eu-1"],
    ["${missing:=fallback}", "fallback"],
    ["${missing:-fallback}", "fallback"],
    ["${cluster:=fallback}", "dev"],
    ["${empty:=fallback}", "fallback"],
    ["${empty=fallback}", ""],
    ["${missing=fallback}", "fallback"],
    ["${missing}", ""],
    ["$cluster stays", "$cluster stays"],
    ["$${cluster} is escaped", "${cluster} is escaped"],
    ["${not-set-default}", "set-default"],
    ["${9lives}", "${9lives}"],
  ])("%s → %s", (input, expected) => {
    expect(substituteText(input, vars)).toBe(expected);
  });

  it("fails in strict mode on an unset variable without default", () => {
    expect(() => substituteText("${nope}", {}, { strict: true })).toThrow(SubstitutionError);
  });

  it("substitutes inside objects and keeps numbers numbers", () => {
    const obj = substituteObject(
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web-${cluster}" },
        spec: { replicas: "${replicas:=3}" },
      } as never,
      vars,
    ) as unknown as { metadata: { name: string }; spec: { replicas: unknown } };
    expect(obj.metadata.name).toBe("web-dev");
    expect(obj.spec.replicas).toBe(3);
  });

  it("leaves objects annotated substitute: disabled untouched", () => {
    const obj = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "script", annotations: { "kustomize.toolkit.fluxcd.io/substitute": "disabled" } },
      data: { run: "echo ${HOME}" },
    };
    expect(substituteObject(obj, vars)).toEqual(obj);
  });
});

describe("substitution errors", () => {
  it("never quote the substituted values (they may come from a Secret)", () => {
    const obj = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" }, data: { a: "${pw}" } };
    let message = "";
    try {
      substituteObject(obj, { pw: '"s3cret: [unbalanced' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/not valid YAML .*at line \d+/);
    expect(message).not.toContain("s3cret");
  });
});
