// What a kustomize build may reach, checked before kustomize runs: tables of references and kustomization trees.
import { mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { assertBuildReferences, isRemoteReference } from "../../src/build/kustomize-references.js";
import { makeRepo } from "../support/repo-tree.js";

describe("isRemoteReference", () => {
  test.each([
    "http://127.0.0.1:8080/hang.yaml",
    "https://raw.githubusercontent.com/x/y/main/deploy.yaml",
    "HTTPS://example.com/x.yaml",
    "ssh://git@example.com/org/repo.git//base",
    "file:///etc/repo",
    "git::https://example.com/org/repo",
    "git@github.com:org/repo.git//base?ref=v1",
    "deploy@example.com/org/repo",
    "github.com/org/repo//base?ref=v1.0.0",
    "GitHub.com:org/repo",
    "gitlab.com/org/repo",
    "bitbucket.org/org/repo",
    "gh:org/repo",
    "base?ref=main",
  ])("%j is remote", (value) => {
    expect(isRemoteReference(value)).toBe(true);
  });
  test.each(["base", "../base", "./apps/web.yaml", "deploy.yaml", "github/base", "a.b.com-dir", "x:y"])(
    "%j is local",
    (value) => {
      expect(isRemoteReference(value)).toBe(false);
    },
  );
});

const kustomization = (body: string) =>
  `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${body}`;
const SWITCH =
  "remote kustomize resources are off (operator setting security.remoteKustomizeResources; CLI flag --allow-remote-resources)";

function check(files: Record<string, string>, build = "apps", allowRemoteResources = false): void {
  const root = makeRepo(files);
  assertBuildReferences([join(root, build)], { root, allowRemoteResources, maxFileBytes: 1024 * 1024 });
}

describe("assertBuildReferences", () => {
  test.each([
    [
      "resources",
      { "apps/kustomization.yaml": kustomization("resources: [web.yaml, http://127.0.0.1:1/hang.yaml]\n") },
      `apps/kustomization.yaml: resources[1]: "http://127.0.0.1:1/hang.yaml" is a remote reference; ${SWITCH}`,
    ],
    [
      "bases",
      { "apps/kustomization.yaml": kustomization("bases: [github.com/org/repo//base?ref=v1]\n") },
      `apps/kustomization.yaml: bases[0]: "github.com/org/repo//base?ref=v1" is a remote reference; ${SWITCH}`,
    ],
    [
      "components",
      { "apps/kustomization.yaml": kustomization("components: [git@github.com:org/repo.git//c]\n") },
      `apps/kustomization.yaml: components[0]: "git@github.com:org/repo.git//c" is a remote reference; ${SWITCH}`,
    ],
    [
      "crds",
      { "apps/kustomization.yaml": kustomization("crds: [https://example.com/crd.json]\n") },
      `apps/kustomization.yaml: crds[0]: "https://example.com/crd.json" is a remote reference; ${SWITCH}`,
    ],
    [
      "generators",
      { "apps/kustomization.yaml": kustomization("generators: [ssh://example.com/gen]\n") },
      `apps/kustomization.yaml: generators[0]: "ssh://example.com/gen" is a remote reference; ${SWITCH}`,
    ],
    [
      "transformers",
      { "apps/kustomization.yaml": kustomization("transformers: [https://example.com/t.yaml]\n") },
      `apps/kustomization.yaml: transformers[0]: "https://example.com/t.yaml" is a remote reference; ${SWITCH}`,
    ],
    [
      "validators",
      { "apps/kustomization.yaml": kustomization("validators: [https://example.com/v.yaml]\n") },
      `apps/kustomization.yaml: validators[0]: "https://example.com/v.yaml" is a remote reference; ${SWITCH}`,
    ],
    [
      "configurations",
      { "apps/kustomization.yaml": kustomization("configurations: [https://example.com/c.yaml]\n") },
      `apps/kustomization.yaml: configurations[0]: "https://example.com/c.yaml" is a remote reference; ${SWITCH}`,
    ],
    [
      "patches",
      {
        "apps/kustomization.yaml": kustomization(
          "patches:\n- patch: '[]'\n  target: {kind: ConfigMap}\n- path: https://example.com/p.yaml\n",
        ),
      },
      `apps/kustomization.yaml: patches[1].path: "https://example.com/p.yaml" is a remote reference; ${SWITCH}`,
    ],
    [
      "patchesStrategicMerge",
      { "apps/kustomization.yaml": kustomization("patchesStrategicMerge: [https://example.com/p.yaml]\n") },
      `apps/kustomization.yaml: patchesStrategicMerge[0]: "https://example.com/p.yaml" is a remote reference; ${SWITCH}`,
    ],
    [
      "patchesJson6902",
      {
        "apps/kustomization.yaml": kustomization(
          "patchesJson6902:\n- target: {kind: ConfigMap, name: a, version: v1}\n  path: https://example.com/p.yaml\n",
        ),
      },
      `apps/kustomization.yaml: patchesJson6902[0].path: "https://example.com/p.yaml" is a remote reference; ${SWITCH}`,
    ],
    [
      "replacements",
      { "apps/kustomization.yaml": kustomization("replacements:\n- path: https://example.com/r.yaml\n") },
      `apps/kustomization.yaml: replacements[0].path: "https://example.com/r.yaml" is a remote reference; ${SWITCH}`,
    ],
    [
      "openapi",
      { "apps/kustomization.yaml": kustomization("openapi:\n  path: https://example.com/schema.json\n") },
      `apps/kustomization.yaml: openapi.path: "https://example.com/schema.json" is a remote reference; ${SWITCH}`,
    ],
    [
      "configMapGenerator files",
      {
        "apps/kustomization.yaml": kustomization(
          "configMapGenerator:\n- name: c\n  files: [a.txt, key=https://example.com/k]\n",
        ),
      },
      `apps/kustomization.yaml: configMapGenerator[0].files[1]: "https://example.com/k" is a remote reference; ${SWITCH}`,
    ],
    [
      "secretGenerator envs",
      {
        "apps/kustomization.yaml": kustomization(
          "secretGenerator:\n- name: s\n  envs: [https://example.com/e.env]\n",
        ),
      },
      `apps/kustomization.yaml: secretGenerator[0].envs[0]: "https://example.com/e.env" is a remote reference; ${SWITCH}`,
    ],
    [
      "a base reached from the build root",
      {
        "apps/kustomization.yaml": kustomization("resources: [../base]\n"),
        "base/kustomization.yml": kustomization("resources: [../lib]\n"),
        "lib/Kustomization": kustomization("resources: [https://example.com/x.yaml]\n"),
      },
      `lib/Kustomization: resources[0]: "https://example.com/x.yaml" is a remote reference; ${SWITCH}`,
    ],
    [
      "helmCharts",
      {
        "apps/kustomization.yaml": kustomization(
          "helmCharts:\n- name: podinfo\n  repo: https://stefanprodan.github.io/podinfo\n",
        ),
      },
      "apps/kustomization.yaml: helmCharts: Helm chart inflation in kustomize is not supported; use a HelmRelease",
    ],
    [
      "helmGlobals",
      { "apps/kustomization.yaml": kustomization("helmGlobals:\n  chartHome: charts\n") },
      "apps/kustomization.yaml: helmGlobals: Helm chart inflation in kustomize is not supported; use a HelmRelease",
    ],
    [
      "helmChartInflationGenerator",
      { "apps/kustomization.yaml": kustomization("helmChartInflationGenerator:\n- chartName: x\n") },
      "apps/kustomization.yaml: helmChartInflationGenerator: Helm chart inflation in kustomize is not supported; use a HelmRelease",
    ],
    [
      "a HelmChartInflationGenerator configuration file",
      {
        "apps/kustomization.yaml": kustomization("generators: [chart.yaml]\n"),
        "apps/chart.yaml":
          "apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata: {name: x}\nchartName: podinfo\n",
      },
      "apps/chart.yaml: kind: HelmChartInflationGenerator (from generators[0]) is not supported; use a HelmRelease",
    ],
    [
      "a base outside the tree",
      { "apps/kustomization.yaml": kustomization("resources: [../../../../../../../../../../etc/x]\n") },
      `apps/kustomization.yaml: resources[0]: "../../../../../../../../../../etc/x" leads outside the tree`,
    ],
    [
      "an absolute base",
      { "apps/kustomization.yaml": kustomization("resources: [/etc/x]\n") },
      `apps/kustomization.yaml: resources[0]: "/etc/x" is an absolute path; references must be relative and inside the tree`,
    ],
  ])("refuses %s", (_what, files, message) => {
    expect(() => check(files)).toThrow(message);
  });

  test("refuses a base that leads out through a symlink", () => {
    const outside = mkdtempSync(join(tmpdir(), "gitops-bot-outside-"));
    const root = makeRepo({ "apps/kustomization.yaml": kustomization("resources: [../link]\n") });
    symlinkSync(outside, join(root, "link"));
    expect(() =>
      assertBuildReferences([join(root, "apps")], {
        root,
        allowRemoteResources: false,
        maxFileBytes: 1 << 20,
      }),
    ).toThrow(`apps/kustomization.yaml: resources[0]: "../link" leads outside the tree through a symlink`);
  });

  test("local trees pass, and kustomizations not reachable from the build root are not read", () => {
    expect(() =>
      check({
        "apps/kustomization.yaml": kustomization(
          "resources: [web.yaml, ../base]\ncomponents: [../components/x]\npatches:\n- path: p.yaml\nconfigMapGenerator:\n- name: c\n  files: [k=a.txt]\n",
        ),
        "base/kustomization.yaml": kustomization("resources: [cm.yaml, missing-dir]\n"),
        "components/x/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n",
        "other/kustomization.yaml": kustomization("resources: [https://example.com/x.yaml]\n"),
      }),
    ).not.toThrow();
  });

  test("remote references pass when the operator allows them; the tree and Helm rules still hold", () => {
    expect(() =>
      check(
        { "apps/kustomization.yaml": kustomization("resources: [https://example.com/x.yaml]\n") },
        "apps",
        true,
      ),
    ).not.toThrow();
    expect(() =>
      check(
        { "apps/kustomization.yaml": kustomization("resources: [https://example.com/x.yaml, /etc/x]\n") },
        "apps",
        true,
      ),
    ).toThrow(`resources[1]: "/etc/x" is an absolute path`);
    expect(() =>
      check({ "apps/kustomization.yaml": kustomization("helmCharts: []\n") }, "apps", true),
    ).toThrow("helmCharts: Helm chart inflation in kustomize is not supported");
  });

  test("a file in the tree whose name looks like git's scp form is a local file, as kustomize reads it", () => {
    expect(() =>
      check({
        "apps/kustomization.yaml": kustomization("resources: [app@v1.yaml]\n"),
        "apps/app@v1.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
      }),
    ).not.toThrow();
    expect(() =>
      check({ "apps/kustomization.yaml": kustomization("resources: [deploy@example.com/repo]\n") }),
    ).toThrow(`resources[0]: "deploy@example.com/repo" is a remote reference`);
  });

  test("a cycle of bases is read once", () => {
    expect(() =>
      check({
        "apps/kustomization.yaml": kustomization("resources: [../base]\n"),
        "base/kustomization.yaml": kustomization("resources: [../apps]\n"),
      }),
    ).not.toThrow();
  });
});
