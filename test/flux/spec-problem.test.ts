// The wording of schema problems and the did-you-mean behind it, including what hostile field names do to it.
import { describe, expect, test } from "vitest";
import { closestName, editDistance } from "../../src/flux/did-you-mean.js";
import { ManifestError } from "../../src/flux/errors.js";
import { kustomizationSpecSchema, parseKustomization } from "../../src/flux/kustomization.js";
import { fieldPath, knownKeys } from "../../src/flux/spec-problem.js";

const base = {
  apiVersion: "kustomize.toolkit.fluxcd.io/v1",
  kind: "Kustomization",
  metadata: { name: "apps", namespace: "flux-system" },
  spec: { interval: "10m", prune: true, sourceRef: { kind: "GitRepository", name: "flux-system" } },
};

function refusal(spec: Record<string, unknown>): ManifestError {
  try {
    parseKustomization({ ...base, spec: { ...base.spec, ...spec } } as typeof base, "f.yaml");
  } catch (error) {
    if (error instanceof ManifestError) return error;
    throw error;
  }
  throw new Error("accepted");
}

describe("did you mean", () => {
  test.each([
    ["wiat", ["wait", "prune"], "wait"],
    ["targetnamespace", ["targetNamespace", "namePrefix"], "targetNamespace"],
    ["prunee", ["prune", "path"], "prune"],
    ["valuess", ["values", "valuesFrom"], "values"],
    ["colour", ["wait", "prune"], undefined],
    ["x", ["y"], undefined],
  ])("%s among %j → %s", (typed, candidates, expected) => {
    expect(closestName(typed, candidates)).toBe(expected);
  });

  test("a swap of neighbours is one edit", () => {
    expect(editDistance("versoin", "version")).toBe(1);
    expect(editDistance("abc", "abc")).toBe(0);
  });

  test("names over 100 characters are not compared (the distance is quadratic)", () => {
    expect(closestName("a".repeat(10_000), ["a"])).toBeUndefined();
  });
});

describe("schema problems in plain words", () => {
  test("the fields allowed at a path are read from the schema", () => {
    expect(knownKeys(kustomizationSpecSchema, ["sourceRef"])).toEqual([
      "kind",
      "name",
      "namespace",
      "apiVersion",
    ]);
    expect(knownKeys(kustomizationSpecSchema, ["healthChecks", 0])).toEqual([
      "apiVersion",
      "kind",
      "name",
      "namespace",
    ]);
    expect(knownKeys(kustomizationSpecSchema, ["interval"])).toEqual([]);
  });

  test("an unknown field's name cannot forge lines or escape sequences in the message", () => {
    const error = refusal({ "evil\n\u001b[31mspec.prune: ok": true });
    expect(error.location.field).toBe('spec."evil\\n\\u001b[31mspec.prune: ok"');
    expect(error.message).not.toContain("\n");
    expect(error.message).not.toContain("\u001b");
  });

  test("a huge unknown field name is bounded in the message and answered at once", () => {
    const started = Date.now();
    const error = refusal({ ["w".repeat(100_000)]: true });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error.message.length).toBeLessThan(400);
    expect(error.reason).toBe("unknown field");
  });

  test("dotted index paths, as before", () => {
    expect(fieldPath(["spec", "dependsOn", 1, "namespace"])).toBe("spec.dependsOn.1.namespace");
  });

  test("a required field of a nested object", () => {
    const error = refusal({ sourceRef: { kind: "GitRepository" } });
    expect(error.message).toBe("f.yaml: Kustomization/flux-system/apps: spec.sourceRef.name: is required");
  });
});

describe("hostile volumes of bad fields", () => {
  test("20,000 list entries, each with a typo of a required field, are answered in linear time", () => {
    const dependsOn = Array.from({ length: 20_000 }, (_, i) => ({ nmae: `dep-${i}` }));
    const started = Date.now();
    const error = refusal({ dependsOn });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(error.message).toBe(
      "f.yaml: Kustomization/flux-system/apps: spec.dependsOn.0.name: is required (found spec.dependsOn.0.nmae — did you mean name?)",
    );
  });

  test("20,000 unknown fields in one mapping: one message, bounded", () => {
    const spec = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`field${i}`, true]));
    const started = Date.now();
    const error = refusal(spec);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(error.message).toBe("f.yaml: Kustomization/flux-system/apps: spec.field0: unknown field");
  });
});
