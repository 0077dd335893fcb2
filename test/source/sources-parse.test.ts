// Parsing Flux sources: defaults and errors that name the file, object and field.
import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it, test } from "vitest";
import { parseSource } from "../../src/flux/sources.js";
import { displayUrl, redact } from "../../src/source/credentials.js";
import { parseOciUrl, selectTag } from "../../src/source/oci.js";

function source(
  kind: string,
  spec: Record<string, unknown>,
  apiVersion = "source.toolkit.fluxcd.io/v1",
): KubernetesObject {
  return { apiVersion, kind, metadata: { name: "s", namespace: "flux-system" }, spec } as KubernetesObject;
}

describe("parseSource", () => {
  it("reads the three kinds", () => {
    expect(
      parseSource(
        source("GitRepository", { url: "https://x/r.git", interval: "1m", ref: { tag: "v1" } }),
        "f",
      ),
    ).toMatchObject({
      kind: "GitRepository",
      timeoutMs: 60_000,
    });
    expect(
      parseSource(
        source("OCIRepository", { url: "oci://r/x", interval: "1m" }, "source.toolkit.fluxcd.io/v1beta2"),
        "f",
      ).kind,
    ).toBe("OCIRepository");
    expect(parseSource(source("HelmRepository", { url: "oci://r/charts", type: "oci" }), "f").kind).toBe(
      "HelmRepository",
    );
  });

  test.each([
    [
      "GitRepository",
      { url: "ftp://x", interval: "1m" },
      "spec.url: must start with http://, https:// or ssh://",
    ],
    [
      "GitRepository",
      { url: "https://x", interval: "1m", ref: { commit: "xyz" } },
      "spec.ref.commit: must be a hexadecimal commit SHA",
    ],
    [
      "GitRepository",
      { url: "https://x", interval: "1m", ref: { name: "refs/pull/1/head" } },
      "spec.ref.name",
    ],
    ["OCIRepository", { url: "https://x", interval: "1m" }, "spec.url: must start with oci://"],
    ["OCIRepository", { url: "oci://x/y", interval: "1m", ref: { digest: "sha256:abc" } }, "spec.ref.digest"],
    ["HelmRepository", { url: "oci://x/charts" }, "spec.url: an oci:// URL needs type: oci"],
    [
      "HelmRepository",
      { url: "https://x", type: "oci" },
      "spec.url: must start with oci:// when type is oci",
    ],
  ])("%s %j is rejected", (kind, spec, message) => {
    expect(() => parseSource(source(kind, spec), "clusters/dev/src.yaml")).toThrow(
      `clusters/dev/src.yaml: ${kind}/flux-system/s: ${message}`,
    );
  });
});

describe("source helpers", () => {
  it("keeps credentials out of URLs and texts", () => {
    expect(displayUrl("https://user:s3cret@example.com/repo.git")).toBe("https://example.com/repo.git");
    expect(redact("auth failed for s3cret", ["s3cret"])).toBe("auth failed for *****");
  });

  it("parses oci:// URLs and picks semver tags, + written as _", () => {
    expect(parseOciUrl("oci://127.0.0.1:5000/a/b")).toEqual({
      registry: "127.0.0.1:5000",
      repository: "a/b",
    });
    expect(selectTag(["1.0.0", "1.2.0", "1.2.1_build.1", "latest"], "1.2.x")).toBe("1.2.1_build.1");
    expect(selectTag(["latest"], "*")).toBeUndefined();
  });
});
