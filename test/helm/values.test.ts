// Pure parts of HelmRelease handling: values merging and paths, digests, parsing errors, manifest diffs,
// drift ignore rules.

import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it, test } from "vitest";
import { chartValuesFiles, defaultReleaseName, parseHelmRelease } from "../../src/flux/helm-release.js";
import { ignorePathError, removeAt, ruleApplies } from "../../src/helm/drift.js";
import { manifestChanges } from "../../src/helm/manifest.js";
import { postRenderKustomization } from "../../src/helm/post-render.js";
import {
  canonicalJson,
  MAX_LIST_INDEX,
  mergeValues,
  setAtPath,
  stringsAtPaths,
  valuesDigest,
} from "../../src/helm/values.js";
import { selectChartVersion } from "../../src/source/helm-repository.js";

describe("values", () => {
  it("merges maps key by key and replaces everything else, as helm does", () => {
    expect(
      mergeValues({ a: { b: 1, c: [1, 2] }, d: "x" }, { a: { c: [3], e: true }, d: { nested: 1 } }),
    ).toEqual({ a: { b: 1, c: [3], e: true }, d: { nested: 1 } });
  });

  test.each([
    ["a.b.c", { a: { b: { c: "v" } } }],
    ["list[1].name", { list: [undefined, { name: "v" }] }],
    ["top", { top: "v" }],
  ])("sets %s", (path, expected) => {
    expect(setAtPath({}, path, "v")).toEqual(expected);
  });

  test.each(["__proto__.suspend", "constructor.prototype.suspend", "a.prototype", "list[0].__proto__"])(
    "refuses the path %s and leaves Object.prototype alone",
    (path) => {
      expect(() => setAtPath({}, path, "true")).toThrow("is not allowed in a values path");
      expect(({} as Record<string, unknown>).suspend).toBeUndefined();
    },
  );

  it("refuses list indexes beyond helm's own bound", () => {
    expect(() => setAtPath({}, `a[${MAX_LIST_INDEX + 1}]`, "x")).toThrow(`larger than ${MAX_LIST_INDEX}`);
    expect(setAtPath({}, "a[2]", "x")).toEqual({ a: [undefined, undefined, "x"] });
  });

  it("keeps a __proto__ key of a document an ordinary key when merging", () => {
    const doc = JSON.parse('{"__proto__": {"suspend": true}, "a": {"__proto__": {"x": 1}}}') as Record<
      string,
      unknown
    >;
    const merged = mergeValues(mergeValues({}, doc), doc);
    expect(Object.keys(merged)).toEqual(["__proto__", "a"]);
    expect(JSON.stringify(merged)).toBe('{"__proto__":{"suspend":true},"a":{"__proto__":{"x":1}}}');
    expect(({} as Record<string, unknown>).suspend).toBeUndefined();
    const set = setAtPath(merged, "a.b", "v");
    expect(JSON.stringify(set)).toBe('{"__proto__":{"suspend":true},"a":{"__proto__":{"x":1},"b":"v"}}');
    expect(stringsAtPaths(set, [["toString"], ["constructor"], ["a", "b"]])).toEqual(["v"]);
  });

  it("digests values independently of key order", () => {
    expect(valuesDigest({ a: 1, b: { c: 2, d: 3 } })).toBe(valuesDigest({ b: { d: 3, c: 2 }, a: 1 }));
    expect(valuesDigest({ a: 1 })).not.toBe(valuesDigest({ a: 2 }));
    expect(canonicalJson({ b: 1, a: [true, null] })).toBe('{"a":[true,null],"b":1}');
  });
});

describe("chart versions", () => {
  test.each([
    [["0.1.0", "0.2.0", "1.0.0-rc.1"], undefined, "0.2.0"],
    [["0.1.0", "0.2.0", "1.0.0"], "0.1.x", "0.1.0"],
    [["0.1.0", "0.2.0", "1.0.0"], ">=0.2.0 <1.0.0", "0.2.0"],
    [["0.1.0", "1.0.0-rc.1"], "1.0.0-rc.1", "1.0.0-rc.1"],
    [["0.1.0"], "2.x", undefined],
  ])("from %j, %s picks %s", (versions, range, expected) => {
    expect(selectChartVersion(versions, range)).toBe(expected);
  });

  it("refuses a range that is not semver", () => {
    expect(() => selectChartVersion(["1.0.0"], "latest!")).toThrow(/not a valid semver range/);
  });
});

function hr(spec: Record<string, unknown>, meta: Record<string, unknown> = {}): KubernetesObject {
  return {
    apiVersion: "helm.toolkit.fluxcd.io/v2",
    kind: "HelmRelease",
    metadata: { name: "app", namespace: "apps", ...meta },
    spec: { interval: "5m", ...spec },
  } as KubernetesObject;
}
const chart = { spec: { chart: "demo", sourceRef: { kind: "HelmRepository", name: "charts" } } };

describe("parseHelmRelease", () => {
  it("derives release name, namespace and timeout as Flux does", () => {
    const parsed = parseHelmRelease(hr({ chart, targetNamespace: "prod" }), "apps/hr.yaml");
    expect(parsed.releaseName).toBe("prod-app");
    expect(parsed.releaseNamespace).toBe("prod");
    expect(parsed.timeoutMs).toBe(300_000);
    expect(parseHelmRelease(hr({ chart, releaseName: "x" }), "f").releaseName).toBe("x");
  });

  it("shortens long release names with a hash", () => {
    const name = defaultReleaseName("a".repeat(40), "b".repeat(20));
    expect(name).toHaveLength(53);
    expect(name).toMatch(/^b{20}-a{19}-[0-9a-f]{12}$/);
  });

  test.each([
    [{ chart, interval: "often" }, "spec.interval: must be a duration"],
    [{}, "spec.chart: exactly one of spec.chart and spec.chartRef is required"],
    [{ chartRef: { kind: "Bucket", name: "x" } }, "spec.chartRef.kind"],
    [
      { chart: { spec: { ...chart.spec, valuesFiles: ["values.yaml", "../../etc/passwd"] } } },
      `spec.chart.spec.valuesFiles[1]: "../../etc/passwd" is not a valid path (leaves the root through '..')`,
    ],
    [
      { chart: { spec: { ...chart.spec, valuesFiles: ["/etc/passwd"] } } },
      `spec.chart.spec.valuesFiles[0]: "/etc/passwd" is not a valid path (must be relative to the root, not absolute)`,
    ],
    [
      { chart: { spec: { ...chart.spec, valuesFile: "a/../../b.yaml" } } },
      `spec.chart.spec.valuesFile: "a/../../b.yaml" is not a valid path`,
    ],
    [{ chart, storageNamespace: "other" }, "spec.storageNamespace: must equal the release namespace apps"],
    [
      { chart, valuesFrom: [{ kind: "Secret", name: "s", targetPath: "a..b" }] },
      "spec.valuesFrom[0].targetPath",
    ],
    [{ chart, driftDetection: { mode: "sometimes" } }, "spec.driftDetection.mode"],
  ])("rejects %j naming the file, object and field", (spec, message) => {
    expect(() => parseHelmRelease(hr(spec), "apps/hr.yaml")).toThrow(
      `apps/hr.yaml: HelmRelease/apps/app: ${message}`,
    );
  });

  it("accepts chartRef to a HelmChart and lists the chart's values files in Flux's order", () => {
    expect(parseHelmRelease(hr({ chartRef: { kind: "HelmChart", name: "x" } }), "f").spec.chartRef).toEqual({
      kind: "HelmChart",
      name: "x",
    });
    const parsed = parseHelmRelease(
      hr({ chart: { spec: { ...chart.spec, valuesFile: "a.yaml", valuesFiles: ["b.yaml", "./c/d.yaml"] } } }),
      "f",
    );
    expect(chartValuesFiles(parsed.spec)).toEqual([
      { path: "a.yaml", field: "spec.chart.spec.valuesFile" },
      { path: "b.yaml", field: "spec.chart.spec.valuesFiles[0]" },
      { path: "./c/d.yaml", field: "spec.chart.spec.valuesFiles[1]" },
    ]);
  });

  it("rejects old API versions", () => {
    expect(() =>
      parseHelmRelease({ ...hr({ chart }), apiVersion: "helm.toolkit.fluxcd.io/v2beta1" }, "f"),
    ).toThrow(/apiVersion: helm.toolkit.fluxcd.io\/v2beta1 is not supported/);
  });
});

describe("manifest diff", () => {
  const cm = (data: string) => `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
data:
  k: ${data}
`;
  const secret = (value: string) => `---
apiVersion: v1
kind: Secret
metadata:
  name: s
stringData:
  password: ${value}
`;
  it("reports created, configured (with a diff), unchanged and deleted objects", () => {
    const changes = manifestChanges(cm("a") + secret("old"), cm("b"), "ns", true);
    expect(changes.map((c) => [c.subject, c.action])).toEqual([
      ["ConfigMap/ns/c", "configured"],
      ["Secret/ns/s", "deleted"],
    ]);
    expect(changes[0]?.diff).toContain("-  k: a\n+  k: b");
    expect(manifestChanges(cm("a"), cm("a"), "ns", true)[0]?.action).toBe("unchanged");
  });

  it("never shows Secret values", () => {
    const [change] = manifestChanges(secret("hunter2"), secret("hunter3"), "ns", true);
    expect(change?.action).toBe("configured");
    expect(change?.diff).not.toMatch(/hunter/);
    expect(change?.diff).toContain("***** (after)");
  });
});

describe("drift ignore rules", () => {
  const deploy = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "ns", labels: { tier: "front" } },
    spec: { replicas: 3, template: { spec: { containers: [{ name: "a" }, { name: "b" }] } } },
  } as KubernetesObject;

  test.each([
    [undefined, true],
    [{ kind: "Deployment" }, true],
    [{ kind: "StatefulSet" }, false],
    [{ group: "apps", name: "w.*" }, true],
    [{ labelSelector: "tier=front" }, true],
    [{ labelSelector: "tier=back" }, false],
  ])("target %j applies: %s", (target, expected) => {
    expect(ruleApplies({ paths: ["/spec/replicas"], target }, deploy)).toBe(expected);
  });

  it("removes JSON pointer paths, escapes included", () => {
    const obj = structuredClone(deploy) as unknown as Record<string, unknown>;
    expect(removeAt(obj, "/spec/replicas")).toBe(true);
    expect(removeAt(obj, "/spec/template/spec/containers/0")).toBe(true);
    expect(removeAt(obj, "/spec/missing")).toBe(false);
    expect(obj.spec).toEqual({ template: { spec: { containers: [{ name: "b" }] } } });
    const annotated = { metadata: { annotations: { "a/b": "x" } } };
    expect(removeAt(annotated, "/metadata/annotations/a~1b")).toBe(true);
    expect(annotated.metadata.annotations).toEqual({});
  });

  it("never walks into a prototype, and refuses such paths up front", () => {
    expect(removeAt({}, "/__proto__/toString")).toBe(false);
    expect(removeAt({}, "/constructor/prototype/toString")).toBe(false);
    expect(removeAt({ a: {} }, "/a/hasOwnProperty")).toBe(false);
    expect(typeof Object.prototype.toString).toBe("function");
    expect(typeof Object.prototype.hasOwnProperty).toBe("function");
    expect(ignorePathError("/__proto__/toString")).toBe(
      '"/__proto__/toString": the segment "__proto__" is not allowed in a path',
    );
    expect(ignorePathError("/spec/replicas")).toBeUndefined();
  });
});

describe("post-renderers", () => {
  it("collects kustomize patches, images and commonMetadata into one kustomization", () => {
    const parsed = parseHelmRelease(
      hr({
        chart,
        postRenderers: [
          {
            kustomize: {
              patches: [{ patch: "- op: add\n  path: /x\n  value: 1", target: { kind: "ConfigMap" } }],
            },
          },
          { kustomize: { images: [{ name: "app", newTag: "2" }] } },
        ],
        commonMetadata: { labels: { team: "a" } },
      }),
      "f",
    );
    expect(postRenderKustomization(parsed)).toMatchObject({
      resources: ["all.yaml"],
      patches: [{ target: { kind: "ConfigMap" } }],
      images: [{ name: "app", newTag: "2" }],
      labels: [{ pairs: { team: "a" }, includeSelectors: false }],
    });
    expect(postRenderKustomization(parseHelmRelease(hr({ chart }), "f"))).toBeUndefined();
  });
});
