// The name, ref and path rules every Flux object is parsed with, and the errors that name file, object, field.
import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { parseHelmRelease } from "../../src/flux/helm-release.js";
import { parseKustomization } from "../../src/flux/kustomization.js";
import {
  chartNameError,
  chartVersionError,
  commitError,
  dataKeyError,
  gitRefNameError,
  namespaceError,
  objectNameError,
  ociTagError,
  reconcilerNameError,
  relativePathError,
  releaseNameError,
  resourceNameError,
} from "../../src/flux/names.js";
import { parseSource } from "../../src/flux/sources.js";

const subdomain = "lowercase letters, digits, '-' and '.', beginning and ending with a letter or digit";
const label = "lowercase letters, digits and '-', beginning and ending with a letter or digit";

describe("Kubernetes names", () => {
  test.each(["a", "web", "web-1", "0", "x".repeat(63)])("namespace %j is valid", (value) => {
    expect(namespaceError(value)).toBeUndefined();
  });
  test.each([
    ["", `"" is not a valid namespace (${label}; at most 63 characters)`],
    ["Web", `"Web" is not a valid namespace (${label}; at most 63 characters)`],
    ["a.b", `"a.b" is not a valid namespace (${label}; at most 63 characters)`],
    ["-a", `"-a" is not a valid namespace (${label}; at most 63 characters)`],
    ["a-", `"a-" is not a valid namespace (${label}; at most 63 characters)`],
    ["../etc", `"../etc" is not a valid namespace (${label}; at most 63 characters)`],
    ["x".repeat(64), `"${"x".repeat(64)}" is not a valid namespace (${label}; at most 63 characters)`],
  ])("namespace %j is refused", (value, message) => {
    expect(namespaceError(value)).toBe(message);
  });

  test.each(["web", "web.example.com", "a-b.c-d", "x".repeat(253)])("object name %j is valid", (value) => {
    expect(objectNameError(value)).toBeUndefined();
  });
  test.each([
    ["x/../../tmp", `"x/../../tmp" is not a valid name (${subdomain}; at most 253 characters)`],
    ["a..b", `"a..b" is not a valid name (${subdomain}; at most 253 characters)`],
    [".a", `".a" is not a valid name (${subdomain}; at most 253 characters)`],
    ["a_b", `"a_b" is not a valid name (${subdomain}; at most 253 characters)`],
    ["a\nb", `"a\\nb" is not a valid name (${subdomain}; at most 253 characters)`],
    ["x".repeat(254), `"${"x".repeat(100)}…" is not a valid name (${subdomain}; at most 253 characters)`],
  ])("object name %j is refused", (value, message) => {
    expect(objectNameError(value)).toBe(message);
  });

  test.each([
    ["apps", undefined],
    ["x".repeat(63), undefined],
    [
      "x".repeat(64),
      `"${"x".repeat(64)}" is not a valid name (${subdomain}; at most 63 characters, it becomes a label value)`,
    ],
  ])("Kustomization or HelmRelease name %j", (value, message) => {
    expect(reconcilerNameError(value)).toBe(message);
  });

  test.each([
    ["podinfo", undefined],
    ["shop-podinfo.v2", undefined],
    ["x".repeat(53), undefined],
    [
      "x".repeat(54),
      `"${"x".repeat(54)}" is not a valid Helm release name (${subdomain}; at most 53 characters)`,
    ],
    ["Podinfo", `"Podinfo" is not a valid Helm release name (${subdomain}; at most 53 characters)`],
  ])("Helm release name %j", (value, message) => {
    expect(releaseNameError(value)).toBe(message);
  });

  test.each([
    ["values.yaml", undefined],
    ["VALUES_1-x", undefined],
    [
      "a/b",
      `"a/b" is not a valid ConfigMap or Secret key (letters, digits, '-', '_' and '.'; at most 253 characters)`,
    ],
  ])("data key %j", (value, message) => {
    expect(dataKeyError(value)).toBe(message);
  });

  test.each([
    ["podinfo", undefined],
    ["kube-prometheus-stack", undefined],
    [
      "../x",
      `"../x" is not a valid chart name (letters, digits, '-', '_' and '.', beginning with a letter or digit; at most 250 characters)`,
    ],
    [
      "a/b",
      `"a/b" is not a valid chart name (letters, digits, '-', '_' and '.', beginning with a letter or digit; at most 250 characters)`,
    ],
  ])("chart name %j", (value, message) => {
    expect(chartNameError(value)).toBe(message);
  });

  test.each([
    ["6.5.0", undefined],
    [">=1.0.0 <2.0.0", undefined],
    ["6.x", undefined],
    [
      "-1",
      `"-1" is not a valid chart version (a version or range, not beginning with '-'; at most 256 characters)`,
    ],
    ["", undefined],
    [
      "1\n2",
      `"1\\n2" is not a valid chart version (a version or range, not beginning with '-'; at most 256 characters)`,
    ],
  ])("chart version %j", (value, message) => {
    expect(chartVersionError(value)).toBe(message);
  });

  test.each([
    ["system:controller:foo", undefined],
    ["web", undefined],
    [
      "..",
      `".." is not a valid name (not '.' or '..', no '/', '%' or control characters; at most 253 characters)`,
    ],
    [
      "a/b",
      `"a/b" is not a valid name (not '.' or '..', no '/', '%' or control characters; at most 253 characters)`,
    ],
  ])("health check target name %j", (value, message) => {
    expect(resourceNameError(value)).toBe(message);
  });
});

describe("git and OCI refs", () => {
  test.each(["main", "release/1.x", "feature/a-b_c", "v1.2.3", "renovate/npm-zod-4.x", "HEAD", "a@b"])(
    "branch %j is valid",
    (value) => {
      expect(gitRefNameError(value, "branch")).toBeUndefined();
    },
  );
  test.each([
    ["", "empty"],
    ["-x", "must not begin with '-'"],
    ["--upload-pack=evil", "must not begin with '-'"],
    ["a b", "no spaces, control characters or any of ~ ^ : ? * [ \\"],
    ["a~1", "no spaces, control characters or any of ~ ^ : ? * [ \\"],
    ["a^", "no spaces, control characters or any of ~ ^ : ? * [ \\"],
    ["a:b", "no spaces, control characters or any of ~ ^ : ? * [ \\"],
    ["a?", "no spaces, control characters or any of ~ ^ : ? * [ \\"],
    ["a*", "no spaces, control characters or any of ~ ^ : ? * [ \\"],
    ["a[b", "no spaces, control characters or any of ~ ^ : ? * [ \\"],
    ["a\\b", "no spaces, control characters or any of ~ ^ : ? * [ \\"],
    ["a\u0000b", "no spaces, control characters or any of ~ ^ : ? * [ \\"],
    ["@", "must not be '@'"],
    ["a@{1}", "must not contain '@{'"],
    ["a..b", "must not contain '..'"],
    ["../../x", "must not contain '..'"],
    ["/main", "no leading, trailing or double '/'"],
    ["main/", "no leading, trailing or double '/'"],
    ["a//b", "no leading, trailing or double '/'"],
    ["main.", "must not end with '.'"],
    [".hidden", "no part may begin with '.'"],
    ["a/.b", "no part may begin with '.'"],
    ["main.lock", "no part may end with '.lock'"],
    ["a.lock/b", "no part may end with '.lock'"],
    ["x".repeat(256), "at most 255 characters"],
  ])("branch %j is refused: %s", (value, why) => {
    expect(gitRefNameError(value, "branch")).toBe(
      `${JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value)} is not a valid git branch name (${why})`,
    );
  });
  test("a tag says tag", () => {
    expect(gitRefNameError("v1..2", "tag")).toBe(
      `"v1..2" is not a valid git tag name (must not contain '..')`,
    );
  });

  test.each(["a".repeat(40), "0123456789abcdef".repeat(4)])("commit %j is valid", (value) => {
    expect(commitError(value)).toBeUndefined();
  });
  test.each(["abc1234", "A".repeat(40), "a".repeat(41), "g".repeat(40), `${"a".repeat(40)}\n`])(
    "commit %j is refused",
    (value) => {
      expect(commitError(value)).toBe(
        `must be a hexadecimal commit SHA (40 or 64 lowercase hex digits), not ${JSON.stringify(value)}`,
      );
    },
  );

  test.each([
    ["latest", undefined],
    ["1.2.3_build.1", undefined],
    ["x".repeat(128), undefined],
    [
      ".x",
      `".x" is not a valid OCI tag (letters, digits, '_', '.' and '-', not beginning with '.' or '-'; at most 128 characters)`,
    ],
    [
      "a/b",
      `"a/b" is not a valid OCI tag (letters, digits, '_', '.' and '-', not beginning with '.' or '-'; at most 128 characters)`,
    ],
  ])("OCI tag %j", (value, message) => {
    expect(ociTagError(value)).toBe(message);
  });
});

describe("repository paths", () => {
  test.each(["./apps", "apps/dev", ".", "./", "apps/../infra", "a b/c", "apps/.hidden"])(
    "path %j is valid",
    (value) => {
      expect(relativePathError(value)).toBeUndefined();
    },
  );
  test.each([
    ["/etc/passwd", "must be relative to the root, not absolute"],
    ["../x", "leaves the root through '..'"],
    ["apps/../../x", "leaves the root through '..'"],
    ["./a/../../../tmp", "leaves the root through '..'"],
    ["a\u0000b", "contains a control character"],
    ["a\nb", "contains a control character"],
    ["https://example.com/x", "must be a path, not a URL"],
    ["file:///etc", "must be a path, not a URL"],
    [`${"a/".repeat(2049)}`, "at most 4096 characters"],
  ])("path %j is refused: %s", (value, why) => {
    expect(relativePathError(value)).toBe(
      `${JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value)} is not a valid path (${why})`,
    );
  });
  test("a path may climb as far as it is allowed to", () => {
    expect(relativePathError("../../components/x", { maxUp: 2 })).toBeUndefined();
    expect(relativePathError("../../../components/x", { maxUp: 2 })).toBe(
      `"../../../components/x" is not a valid path (leaves the root through '..')`,
    );
  });
});

const file = "clusters/dev/x.yaml";

function kustomization(
  metadata: Record<string, unknown>,
  spec: Record<string, unknown> = {},
): KubernetesObject {
  return {
    apiVersion: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    metadata,
    spec: {
      interval: "10m",
      path: "./apps",
      prune: true,
      sourceRef: { kind: "GitRepository", name: "flux-system" },
      ...spec,
    },
  } as KubernetesObject;
}

function helmRelease(
  metadata: Record<string, unknown>,
  spec: Record<string, unknown> = {},
): KubernetesObject {
  return {
    apiVersion: "helm.toolkit.fluxcd.io/v2",
    kind: "HelmRelease",
    metadata,
    spec: {
      interval: "10m",
      chart: { spec: { chart: "podinfo", sourceRef: { kind: "HelmRepository", name: "podinfo" } } },
      ...spec,
    },
  } as KubernetesObject;
}

function source(kind: string, spec: Record<string, unknown>): KubernetesObject {
  return {
    apiVersion: "source.toolkit.fluxcd.io/v1",
    kind,
    metadata: { name: "s", namespace: "flux-system" },
    spec,
  } as KubernetesObject;
}

const ok = { name: "x", namespace: "flux-system" };
const nameRule = `(${subdomain}; at most 253 characters)`;
const nsRule = `(${label}; at most 63 characters)`;

describe("Flux objects are parsed with these rules", () => {
  test.each([
    [
      kustomization({ name: "x/../../../../tmp/canary", namespace: "flux-system" }),
      `${file}: Kustomization/flux-system/"x/../../../../tmp/canary": metadata.name: "x/../../../../tmp/canary" is not a valid name (${subdomain}; at most 63 characters, it becomes a label value)`,
    ],
    [
      kustomization({ name: "x", namespace: "../kube-system" }),
      `${file}: Kustomization/"../kube-system"/x: metadata.namespace: "../kube-system" is not a valid namespace ${nsRule}`,
    ],
    [
      kustomization(ok, { targetNamespace: "Shop" }),
      `${file}: Kustomization/flux-system/x: spec.targetNamespace: "Shop" is not a valid namespace ${nsRule}`,
    ],
    [
      kustomization(ok, { path: "../../etc" }),
      `${file}: Kustomization/flux-system/x: spec.path: "../../etc" is not a valid path (leaves the root through '..')`,
    ],
    [
      kustomization(ok, { path: "/etc" }),
      `${file}: Kustomization/flux-system/x: spec.path: "/etc" is not a valid path (must be relative to the root, not absolute)`,
    ],
    [
      kustomization(ok, { components: ["../../x"] }),
      `${file}: Kustomization/flux-system/x: spec.components[0]: "../../x" is not a valid path (leaves the root through '..')`,
    ],
    [
      kustomization(ok, { sourceRef: { kind: "GitRepository", name: "a/b" } }),
      `${file}: Kustomization/flux-system/x: spec.sourceRef.name: "a/b" is not a valid name ${nameRule}`,
    ],
    [
      kustomization(ok, { sourceRef: { kind: "GitRepository", name: "a", namespace: "A" } }),
      `${file}: Kustomization/flux-system/x: spec.sourceRef.namespace: "A" is not a valid namespace ${nsRule}`,
    ],
    [
      kustomization(ok, { dependsOn: [{ name: "ok" }, { name: "a", namespace: "x/y" }] }),
      `${file}: Kustomization/flux-system/x: spec.dependsOn.1.namespace: "x/y" is not a valid namespace ${nsRule}`,
    ],
    [
      kustomization(ok, { postBuild: { substituteFrom: [{ kind: "Secret", name: "../s" }] } }),
      `${file}: Kustomization/flux-system/x: spec.postBuild.substituteFrom.0.name: "../s" is not a valid name ${nameRule}`,
    ],
    [
      kustomization(ok, { serviceAccountName: "Admin" }),
      `${file}: Kustomization/flux-system/x: spec.serviceAccountName: "Admin" is not a valid name ${nameRule}`,
    ],
  ])("Kustomization %#", (obj, message) => {
    expect(() => parseKustomization(obj, file)).toThrow(message);
  });

  test("a Kustomization with a component inside its path's parents is fine", () => {
    expect(
      parseKustomization(kustomization(ok, { path: "./apps/dev", components: ["../../components/x"] }), file)
        .spec.components,
    ).toEqual(["../../components/x"]);
  });

  test.each([
    [
      helmRelease({ name: "a..b" }),
      `${file}: HelmRelease/flux-system/"a..b": metadata.name: "a..b" is not a valid name (${subdomain}; at most 63 characters, it becomes a label value)`,
    ],
    [
      helmRelease(ok, { releaseName: "x".repeat(54) }),
      `${file}: HelmRelease/flux-system/x: spec.releaseName: "${"x".repeat(54)}" is not a valid Helm release name (${subdomain}; at most 53 characters)`,
    ],
    [
      helmRelease(ok, { upgrade: { strategy: { name: "RetryOnFailure", retryInterval: "5m" } } }),
      `${file}: HelmRelease/flux-system/x: spec.upgrade.strategy.name: RetryOnFailure is not supported by gitops-bot: a failed release is remediated as spec.upgrade.remediation says (RemediateOnFailure, the default); remove spec.upgrade.strategy`,
    ],
    [
      helmRelease(ok, { storageNamespace: "a_b" }),
      `${file}: HelmRelease/flux-system/x: spec.storageNamespace: "a_b" is not a valid namespace ${nsRule}`,
    ],
    [
      helmRelease(ok, { targetNamespace: "a.b" }),
      `${file}: HelmRelease/flux-system/x: spec.targetNamespace: "a.b" is not a valid namespace ${nsRule}`,
    ],
    [
      helmRelease(ok, { valuesFrom: [{ kind: "ConfigMap", name: "a/b" }] }),
      `${file}: HelmRelease/flux-system/x: spec.valuesFrom.0.name: "a/b" is not a valid name ${nameRule}`,
    ],
    [
      helmRelease(ok, { valuesFrom: [{ kind: "ConfigMap", name: "v", valuesKey: "../k" }] }),
      `${file}: HelmRelease/flux-system/x: spec.valuesFrom.0.valuesKey: "../k" is not a valid ConfigMap or Secret key`,
    ],
    [
      helmRelease(ok, { valuesFrom: [{ kind: "ConfigMap", name: "v", targetPath: "__proto__.suspend" }] }),
      `${file}: HelmRelease/flux-system/x: spec.valuesFrom[0].targetPath: "__proto__.suspend" uses the reserved key "__proto__"`,
    ],
    [
      helmRelease(ok, {
        valuesFrom: [{ kind: "ConfigMap", name: "v", targetPath: "a.constructor.prototype" }],
      }),
      `${file}: HelmRelease/flux-system/x: spec.valuesFrom[0].targetPath: "a.constructor.prototype" uses the reserved key "constructor"`,
    ],
    [
      // A filter name becomes `helm test --filter name=<name>`; a comma would add filters nobody declared.
      helmRelease(ok, { test: { enable: true, filters: [{ name: "a,name=b" }] } }),
      `${file}: HelmRelease/flux-system/x: spec.test.filters.0.name: "a,name=b" is not a valid name ${nameRule}`,
    ],
    [
      helmRelease(ok, { dependsOn: [{ name: "-a" }] }),
      `${file}: HelmRelease/flux-system/x: spec.dependsOn.0.name: "-a" is not a valid name ${nameRule}`,
    ],
    [
      helmRelease(ok, {
        chart: { spec: { chart: "../../../x", sourceRef: { kind: "GitRepository", name: "flux-system" } } },
      }),
      `${file}: HelmRelease/flux-system/x: spec.chart.spec.chart: "../../../x" is not a valid path (leaves the root through '..')`,
    ],
    [
      helmRelease(ok, {
        chart: { spec: { chart: "a/../b", sourceRef: { kind: "HelmRepository", name: "r" } } },
      }),
      `${file}: HelmRelease/flux-system/x: spec.chart.spec.chart: "a/../b" is not a valid chart name`,
    ],
    [
      helmRelease(ok, { chart: undefined, chartRef: { kind: "OCIRepository", name: "UP" } }),
      `${file}: HelmRelease/flux-system/x: spec.chartRef.name: "UP" is not a valid name ${nameRule}`,
    ],
    [
      helmRelease(ok, { serviceAccountName: "a b" }),
      `${file}: HelmRelease/flux-system/x: spec.serviceAccountName: "a b" is not a valid name ${nameRule}`,
    ],
  ])("HelmRelease %#", (obj, message) => {
    expect(() => parseHelmRelease(obj, file)).toThrow(message);
  });

  test("a HelmRelease chart from a GitRepository is a path in it", () => {
    const hr = parseHelmRelease(
      helmRelease(ok, {
        chart: { spec: { chart: "./charts/x", sourceRef: { kind: "GitRepository", name: "flux-system" } } },
      }),
      file,
    );
    expect(hr.spec.chart?.spec.chart).toBe("./charts/x");
  });

  const git = { url: "https://example.com/r.git", interval: "1m" };
  test.each([
    [
      "GitRepository",
      { ...git, ref: { branch: "--upload-pack=touch /tmp/x" } },
      `spec.ref.branch: "--upload-pack=touch /tmp/x" is not a valid git branch name (must not begin with '-')`,
    ],
    [
      "GitRepository",
      { ...git, ref: { tag: "v1^{}" } },
      `spec.ref.tag: "v1^{}" is not a valid git tag name (no spaces, control characters or any of ~ ^ : ? * [ \\)`,
    ],
    [
      "GitRepository",
      { ...git, ref: { commit: "abc1234" } },
      `spec.ref.commit: must be a hexadecimal commit SHA (40 or 64 lowercase hex digits), not "abc1234"`,
    ],
    [
      "GitRepository",
      { ...git, secretRef: { name: "a/b" } },
      `spec.secretRef.name: "a/b" is not a valid name ${nameRule}`,
    ],
    [
      "GitRepository",
      { ...git, include: [{ repository: { name: "lib" }, toPath: "../../x" }] },
      `spec.include.0.toPath: "../../x" is not a valid path (leaves the root through '..')`,
    ],
    [
      "GitRepository",
      { ...git, include: [{ repository: { name: "lib" }, fromPath: "/etc" }] },
      `spec.include.0.fromPath: "/etc" is not a valid path (must be relative to the root, not absolute)`,
    ],
    [
      "OCIRepository",
      { url: "oci://r/x", interval: "1m", ref: { tag: "../x" } },
      `spec.ref.tag: "../x" is not a valid OCI tag`,
    ],
    [
      "OCIRepository",
      { url: "oci://r/x", interval: "1m", serviceAccountName: "A" },
      `spec.serviceAccountName: "A" is not a valid name ${nameRule}`,
    ],
    [
      "HelmRepository",
      { url: "https://charts.example.com", certSecretRef: { name: "a_b" } },
      `spec.certSecretRef.name: "a_b" is not a valid name ${nameRule}`,
    ],
  ])("%s %j is refused", (kind, spec, message) => {
    expect(() => parseSource(source(kind, spec), file)).toThrow(`${file}: ${kind}/flux-system/s: ${message}`);
  });

  test("a source's own name and namespace are checked", () => {
    const obj = { ...source("GitRepository", git), metadata: { name: "s", namespace: "a/b" } };
    expect(() => parseSource(obj, file)).toThrow(
      `${file}: GitRepository/"a/b"/s: metadata.namespace: "a/b" is not a valid namespace ${nsRule}`,
    );
  });
});
