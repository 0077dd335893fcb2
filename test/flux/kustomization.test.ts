import { describe, expect, it } from "vitest";
import { ManifestError } from "../../src/flux/errors.js";
import { parseKustomization } from "../../src/flux/kustomization.js";
import { parseManifests } from "../../src/flux/manifests.js";

const base = {
  apiVersion: "kustomize.toolkit.fluxcd.io/v1",
  kind: "Kustomization",
  metadata: { name: "apps", namespace: "flux-system" },
  spec: {
    interval: "10m",
    path: "./apps",
    prune: true,
    sourceRef: { kind: "GitRepository", name: "flux-system" },
  },
};

describe("Flux Kustomization parsing", () => {
  it("applies Flux defaults: timeout follows interval", () => {
    const ks = parseKustomization(base, "clusters/dev/apps.yaml");
    expect(ks.intervalMs).toBe(600_000);
    expect(ks.timeoutMs).toBe(600_000);
  });

  it("names the file, object and field of a malformed field", () => {
    const bad = { ...base, spec: { ...base.spec, interval: "ten minutes" } };
    expect(() => parseKustomization(bad, "clusters/dev/apps.yaml")).toThrow(
      "clusters/dev/apps.yaml: Kustomization/flux-system/apps: spec.interval: must be a duration like 30s, 5m or 1h30m",
    );
  });

  it("requires prune, as Flux does", () => {
    const { prune: _, ...spec } = base.spec;
    expect(() => parseKustomization({ ...base, spec } as typeof base, "f.yaml")).toThrow(/spec\.prune/);
  });

  it("rejects an old API version with a hint", () => {
    expect(() =>
      parseKustomization({ ...base, apiVersion: "kustomize.toolkit.fluxcd.io/v1beta1" }, "f.yaml"),
    ).toThrow(/apiVersion.*v1/);
  });

  it("rejects invalid variable names in postBuild.substitute", () => {
    const bad = { ...base, spec: { ...base.spec, postBuild: { substitute: { "bad-name": "x" } } } };
    expect(() => parseKustomization(bad, "f.yaml")).toThrow(/spec\.postBuild\.substitute/);
  });
});

describe("manifest reading limits", () => {
  it("reports invalid YAML with file and line", () => {
    expect(() => parseManifests("a: b\n  c: : d\n", "apps/bad.yaml")).toThrow(ManifestError);
    expect(() => parseManifests("a: b\n  c: : d\n", "apps/bad.yaml")).toThrow(
      /apps\/bad.yaml: invalid YAML at line/,
    );
  });

  it("stops alias expansion bombs", () => {
    const bomb = [
      "apiVersion: v1",
      "kind: ConfigMap",
      "metadata: {name: x}",
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
      "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]",
    ].join("\n");
    expect(() => parseManifests(bomb, "bomb.yaml")).toThrow(/bomb.yaml: invalid YAML/);
  });

  it("refuses files over the size limit", () => {
    expect(() =>
      parseManifests("x".repeat(100), "big.yaml", { maxFileBytes: 10, maxObjects: 10, maxAliasCount: 10 }),
    ).toThrow(/larger than/);
  });

  it("requires apiVersion and kind", () => {
    expect(() => parseManifests("metadata: {name: x}\n", "f.yaml")).toThrow(/has no apiVersion/);
  });
});
