// The pure parts of previews of objects whose Namespace or CRD the same change creates: which dry-run answers take
// the would-create path, and what a new CRD's schema says of its objects.
import { ApiException, type KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  type CustomResourceDefinition,
  definitionsInChange,
  definitionsOfPlan,
  missingNamespaceInChange,
  schemaErrors,
} from "../../src/cluster/ssa/pending-definitions.js";

const crd: CustomResourceDefinition = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.example.com" },
  spec: {
    group: "example.com",
    names: { kind: "Widget" },
    scope: "Namespaced",
    versions: [
      { name: "v1alpha1", served: false },
      {
        name: "v1",
        served: true,
        schema: {
          openAPIV3Schema: {
            type: "object",
            required: ["spec"],
            properties: {
              metadata: { type: "object", properties: { name: { type: "string", maxLength: 3 } } },
              spec: {
                type: "object",
                required: ["size"],
                properties: {
                  size: { type: "integer", minimum: 1 },
                  port: { "x-kubernetes-int-or-string": true },
                  mode: { type: "string", enum: ["a", "b"] },
                  note: { type: "string", nullable: true, format: "made-up-format" },
                  extra: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                },
              },
            },
          },
        },
      },
    ],
  },
};

const widget = (spec: unknown, version = "v1"): KubernetesObject =>
  ({
    apiVersion: `example.com/${version}`,
    kind: "Widget",
    metadata: { name: "a-name-longer-than-the-schema-says", namespace: "apps" },
    spec,
  }) as KubernetesObject;

describe("a new CRD's schema checks its objects", () => {
  it.each([
    ["a valid object", { size: 2, port: "http", mode: "a", note: null, extra: { any: 1 } }, []],
    ["an integer port (int-or-string)", { size: 2, port: 8080 }, []],
    ["a missing required field", {}, ["spec.size: is required"]],
    ["a wrong type", { size: "big" }, ["spec.size: must be integer"]],
    ["a value out of range", { size: 0 }, ["spec.size: must be >= 1"]],
    [
      "a value not in the enum",
      { size: 1, mode: "c" },
      ["spec.mode: must be equal to one of the allowed values (a, b)"],
    ],
    [
      "a boolean where int-or-string is expected",
      { size: 1, port: true },
      ["spec.port: must be integer,string"],
    ],
    ["no spec at all", undefined, ["spec: is required"]],
  ])("%s", (_label, spec, expected) => {
    const obj = widget(spec);
    if (spec === undefined) delete (obj as { spec?: unknown }).spec;
    expect(schemaErrors(obj, crd)).toEqual(expected);
  });

  it("refuses a version the CRD does not serve, naming the served ones", () => {
    expect(schemaErrors(widget({ size: 1 }, "v1alpha1"), crd)).toEqual([
      "apiVersion: version v1alpha1 is not served by CustomResourceDefinition widgets.example.com (served: v1)",
    ]);
  });

  it("leaves metadata to the API server, whatever the schema says of it", () => {
    expect(schemaErrors(widget({ size: 1 }), crd)).toEqual([]);
  });
});

describe("which dry-run answers mean: the namespace is created by the same change", () => {
  const change = definitionsInChange([
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "apps" } },
    crd,
  ]);
  const inApps: KubernetesObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c", namespace: "apps" },
  };
  const notFound = (ns: string) =>
    new ApiException(404, "Not Found", { message: `namespaces "${ns}" not found` }, {});

  it.each([
    ["the object's namespace, declared by the change", notFound("apps"), inApps, "apps"],
    ["another namespace than the object's", notFound("other"), inApps, undefined],
    [
      "a namespace the change does not declare",
      notFound("other"),
      { ...inApps, metadata: { name: "c", namespace: "other" } },
      undefined,
    ],
    [
      "another error",
      new ApiException(422, "Invalid", { message: `namespaces "apps" not found` }, {}),
      inApps,
      undefined,
    ],
    ["a plain error with the same words", new Error(`namespaces "apps" not found`), inApps, undefined],
  ])("%s", (_label, err, obj, expected) => {
    expect(missingNamespaceInChange(err, obj, change)).toBe(expected);
  });

  it("counts only Kustomizations that will be applied (not refused, built, not suspended)", () => {
    const ns = (name: string): KubernetesObject => ({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name },
    });
    const defs = definitionsOfPlan([
      { objects: [ns("kept")], ks: { spec: {} } },
      { objects: [ns("refused")], refused: "no", ks: { spec: {} } },
      { objects: [ns("broken")], buildError: "no", ks: { spec: {} } },
      { objects: [ns("suspended")], ks: { spec: { suspend: true } } },
    ]);
    expect([...defs.namespaces]).toEqual(["kept"]);
    expect(change.kinds.has("example.com/Widget")).toBe(true);
  });
});
