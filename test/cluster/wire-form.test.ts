// The generic object API sends manifests as written: a CRD keeps its x-kubernetes-* extensions and defaults
// (client-node's model classes would drop every field whose wire name differs from the model's attribute name).
import { describe, expect, it } from "vitest";
import { applyAllStaged } from "../../src/cluster/ssa/apply.js";
import { testObjectApi, uniqueName } from "../support/kube.js";

describe("wire form", () => {
  it("a CRD applied by the bot keeps x-kubernetes-preserve-unknown-fields, int-or-string and default", async () => {
    const api = testObjectApi();
    const group = `${uniqueName("wire")}.example.com`;
    const crd = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: `widgets.${group}` },
      spec: {
        group,
        names: { kind: "Widget", plural: "widgets", singular: "widget", listKind: "WidgetList" },
        scope: "Namespaced",
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: "object",
                properties: {
                  spec: {
                    type: "object",
                    "x-kubernetes-preserve-unknown-fields": true,
                    properties: {
                      port: { "x-kubernetes-int-or-string": true },
                      size: { type: "string", default: "M" },
                    },
                  },
                },
              },
            },
          },
        ],
      },
    };
    const result = await applyAllStaged(api, [crd]);
    expect(result.errors).toEqual([]);
    const live = (await api.read(crd)) as unknown as typeof crd;
    const spec = live.spec.versions[0]?.schema.openAPIV3Schema.properties.spec;
    expect(spec?.["x-kubernetes-preserve-unknown-fields"]).toBe(true);
    expect(spec?.properties.port["x-kubernetes-int-or-string"]).toBe(true);
    expect(spec?.properties.size.default).toBe("M");
  });
});
