// What a kustomize build may reach, checked before kustomize runs: tables of references and kustomization trees.
import { mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, test } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  assertBoundedYaml,
  assertBuildReferences,
  boundedAliasTokens,
  isRemoteReference,
  maxYamlAliasCount,
} from "../../src/build/kustomize-references.js";
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

const bomb = (levels: number) => {
  const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i <= levels; i++) {
    lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(",")}]`);
  }
  return lines.join("\n");
};

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
      "a ConfigMapGenerator configuration that fetches a URL (files, key= form)",
      {
        "apps/kustomization.yaml": kustomization("generators: [gen.yaml]\n"),
        "apps/gen.yaml":
          "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: stolen}\nfiles: [creds=http://169.254.169.254/latest]\n",
      },
      `apps/gen.yaml: ConfigMapGenerator/stolen: files[0]: "http://169.254.169.254/latest" is a remote reference; ${SWITCH}`,
    ],
    [
      "a SecretGenerator configuration with a remote env file",
      {
        "apps/kustomization.yaml": kustomization("generators: [gen.yaml]\n"),
        "apps/gen.yaml":
          "apiVersion: builtin\nkind: SecretGenerator\nmetadata: {name: s}\nenvs: [https://example.com/x.env]\n",
      },
      `apps/gen.yaml: SecretGenerator/s: envs[0]: "https://example.com/x.env" is a remote reference; ${SWITCH}`,
    ],
    [
      "a SecretGenerator configuration with a remote env (singular)",
      {
        "apps/kustomization.yaml": kustomization("generators: [gen.yaml]\n"),
        "apps/gen.yaml":
          "apiVersion: builtin\nkind: SecretGenerator\nmetadata: {name: s}\nenv: https://example.com/x.env\n",
      },
      `apps/gen.yaml: SecretGenerator/s: env: "https://example.com/x.env" is a remote reference; ${SWITCH}`,
    ],
    [
      "the second document of a configuration file",
      {
        "apps/kustomization.yaml": kustomization("transformers: [t.yaml]\n"),
        "apps/t.yaml":
          "apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: l}\nlabels: {a: b}\nfieldSpecs: []\n---\napiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: https://example.com/p.yaml\n",
      },
      `apps/t.yaml: PatchTransformer/p: path: "https://example.com/p.yaml" is a remote reference; ${SWITCH}`,
    ],
    [
      "a PatchStrategicMergeTransformer path",
      {
        "apps/kustomization.yaml": kustomization("transformers: [t.yaml]\n"),
        "apps/t.yaml":
          "apiVersion: builtin\nkind: PatchStrategicMergeTransformer\nmetadata: {name: p}\npaths: [ok.yaml, http://127.0.0.1:1/p.yaml]\n",
      },
      `apps/t.yaml: PatchStrategicMergeTransformer/p: paths[1]: "http://127.0.0.1:1/p.yaml" is a remote reference; ${SWITCH}`,
    ],
    [
      "a PatchJson6902Transformer path out of the tree",
      {
        "apps/kustomization.yaml": kustomization("transformers: [t.yaml]\n"),
        "apps/t.yaml":
          "apiVersion: builtin\nkind: PatchJson6902Transformer\nmetadata: {name: p}\npath: ../../../../../etc/passwd\n",
      },
      `apps/t.yaml: PatchJson6902Transformer/p: path: "../../../../../etc/passwd" leads outside the tree`,
    ],
    [
      "a ReplacementTransformer path",
      {
        "apps/kustomization.yaml": kustomization("transformers: [t.yaml]\n"),
        "apps/t.yaml":
          "apiVersion: builtin\nkind: ReplacementTransformer\nmetadata: {name: r}\nreplacements:\n- path: https://example.com/r.yaml\n",
      },
      `apps/t.yaml: ReplacementTransformer/r: replacements[0].path: "https://example.com/r.yaml" is a remote reference; ${SWITCH}`,
    ],
    [
      "an inline multi-line generator",
      {
        "apps/kustomization.yaml": kustomization(
          "generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata:\n    name: stolen\n  files:\n  - creds=http://127.0.0.1:1/x\n",
        ),
      },
      `apps/kustomization.yaml: ConfigMapGenerator/stolen: generators[0].files[0]: "http://127.0.0.1:1/x" is a remote reference; ${SWITCH}`,
    ],
    [
      "an inline generator as a flow mapping on one line",
      {
        "apps/kustomization.yaml": kustomization(
          'generators:\n- "{apiVersion: builtin, kind: SecretGenerator, metadata: {name: s}, envs: [https://example.com/e]}"\n',
        ),
      },
      `apps/kustomization.yaml: SecretGenerator/s: generators[0].envs[0]: "https://example.com/e" is a remote reference; ${SWITCH}`,
    ],
    [
      "an inline validator with a local path out of the tree",
      {
        "apps/kustomization.yaml": kustomization(
          "validators:\n- |\n  apiVersion: builtin\n  kind: PatchTransformer\n  metadata: {name: p}\n  path: /etc/passwd\n",
        ),
      },
      `apps/kustomization.yaml: PatchTransformer/p: validators[0].path: "/etc/passwd" is an absolute path; references must be relative and inside the tree`,
    ],
    [
      "a URL in a field the bot does not know as a path (backstop)",
      {
        "apps/kustomization.yaml": kustomization("transformers: [t.yaml]\n"),
        "apps/t.yaml":
          "apiVersion: builtin\nkind: ImageTagTransformer\nmetadata: {name: i}\nimageTag: {name: x, newName: 'https://example.com/i'}\n",
      },
      `apps/t.yaml: ImageTagTransformer/i: imageTag.newName: "https://example.com/i" looks like a URL, which kustomize would fetch; ${SWITCH}`,
    ],
    [
      "a git shorthand in an unknown field (backstop)",
      {
        "apps/kustomization.yaml": kustomization("transformers: [t.yaml]\n"),
        "apps/t.yaml":
          "apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\nextra: [git@github.com:org/repo.git]\n",
      },
      `apps/t.yaml: PatchTransformer/p: extra[0]: "git@github.com:org/repo.git" looks like a URL`,
    ],
    [
      "an exec or KRM function plugin",
      {
        "apps/kustomization.yaml": kustomization("transformers: [fn.yaml]\n"),
        "apps/fn.yaml":
          "apiVersion: example.com/v1\nkind: Touch\nmetadata:\n  name: t\n  annotations:\n    config.kubernetes.io/function: |\n      exec: {path: /bin/sh}\n",
      },
      `apps/fn.yaml: Touch/t: apiVersion: "example.com/v1" (from transformers[0]): only kustomize's built-in plugins (apiVersion: builtin) are supported; exec and KRM function plugins are off`,
    ],
    [
      "a List of plugin configurations (kustomize expands it)",
      {
        "apps/kustomization.yaml": kustomization("generators: [list.yaml]\n"),
        "apps/list.yaml":
          "apiVersion: v1\nkind: List\nitems:\n- apiVersion: builtin\n  kind: ConfigMapGenerator\n",
      },
      `apps/list.yaml: List/?: apiVersion: "v1" (from generators[0]): only kustomize's built-in plugins`,
    ],
    [
      "an unknown built-in kind",
      {
        "apps/kustomization.yaml": kustomization("generators: [g.yaml]\n"),
        "apps/g.yaml": "apiVersion: builtin\nkind: FetchEverythingGenerator\nmetadata: {name: f}\n",
      },
      `apps/g.yaml: FetchEverythingGenerator/f: kind: "FetchEverythingGenerator" (from generators[0]) is not one of kustomize's built-in plugins`,
    ],
    [
      "a directory of plugin configurations",
      {
        "apps/kustomization.yaml": kustomization("generators: [gens]\n"),
        "apps/gens/kustomization.yaml": kustomization("resources: [g.yaml]\n"),
        "apps/gens/g.yaml":
          "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: g}\nliterals: [a=b]\n",
      },
      `apps/kustomization.yaml: generators[0]: "gens" is a directory; list the plugin configuration files themselves`,
    ],
    [
      "an inline HelmChartInflationGenerator",
      {
        "apps/kustomization.yaml": kustomization(
          "generators:\n- |\n  apiVersion: builtin\n  kind: HelmChartInflationGenerator\n  metadata: {name: x}\n",
        ),
      },
      "apps/kustomization.yaml: generators[0].kind: HelmChartInflationGenerator (from generators[0]) is not supported; use a HelmRelease",
    ],
    [
      "an alias bomb in a resource",
      { "apps/kustomization.yaml": kustomization("resources: [bomb.yaml]\n"), "apps/bomb.yaml": bomb(9) },
      "apps/bomb.yaml: YAML aliases expand too far (Excessive alias count",
    ],
    [
      "an alias bomb in a later document of a resource",
      {
        "apps/kustomization.yaml": kustomization("resources: [bomb.yaml]\n"),
        "apps/bomb.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n${bomb(9)}`,
      },
      "apps/bomb.yaml: YAML aliases expand too far",
    ],
    [
      "an alias bomb in a patch file",
      {
        "apps/kustomization.yaml": kustomization("patches:\n- path: p.yaml\n"),
        "apps/p.yaml": bomb(9),
      },
      "apps/p.yaml: YAML aliases expand too far",
    ],
    [
      "an alias bomb in an inline patch",
      {
        "apps/kustomization.yaml": kustomization(`patches:\n- patch: |\n${bomb(9).replace(/^/gm, "    ")}\n`),
      },
      "apps/kustomization.yaml: patches[0].patch: YAML aliases expand too far",
    ],
    [
      "an alias bomb in a strategic merge patch file",
      {
        "apps/kustomization.yaml": kustomization("patchesStrategicMerge: [p.yaml]\n"),
        "apps/p.yaml": bomb(9),
      },
      "apps/p.yaml: YAML aliases expand too far",
    ],
    [
      "an alias bomb in a plugin's patch file",
      {
        "apps/kustomization.yaml": kustomization("transformers: [t.yaml]\n"),
        "apps/t.yaml": "apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: p.yaml\n",
        "apps/p.yaml": bomb(9),
      },
      "apps/p.yaml: YAML aliases expand too far",
    ],
    [
      "an alias bomb in a generator configuration",
      {
        "apps/kustomization.yaml": kustomization("generators: [g.yaml]\n"),
        "apps/g.yaml": `apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: g}\nx:\n${bomb(9).replace(/^/gm, "  ")}\n`,
      },
      "apps/g.yaml: YAML aliases expand too far",
    ],
    [
      "a resource over the size limit",
      {
        "apps/kustomization.yaml": kustomization("resources: [big.yaml]\n"),
        "apps/big.yaml": `# ${"x".repeat(2 * 1024 * 1024)}\n`,
      },
      "apps/big.yaml: is 2097155 bytes, over the 1048576-byte limit",
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

  test("built-in plugin configurations with local files and data fields pass", () => {
    expect(() =>
      check({
        "apps/kustomization.yaml": kustomization(
          "resources: [cm.yaml]\ngenerators:\n- gen.yaml\n- |\n  apiVersion: builtin\n  kind: SecretGenerator\n  metadata: {name: s}\n  envs: [s.env]\ntransformers: [t.yaml]\n",
        ),
        "apps/cm.yaml":
          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  cron: '*/5 * * * *'\n",
        "apps/gen.yaml":
          "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: g}\nfiles: [k=a.txt]\nliterals: [URL=https://example.com/api]\n",
        "apps/a.txt": "x",
        "apps/s.env": "A=b\n",
        "apps/t.yaml":
          "apiVersion: builtin\nkind: AnnotationsTransformer\nmetadata: {name: a}\nannotations: {docs: 'https://example.com/docs'}\nfieldSpecs: [{path: metadata/annotations, create: true}]\n---\napiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npatch: |\n  - op: add\n    path: /metadata/annotations/link\n    value: https://example.com\ntarget: {kind: ConfigMap}\n---\napiVersion: builtin\nkind: PatchStrategicMergeTransformer\nmetadata: {name: psm}\npaths:\n- p.yaml\n- |\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n  data: {url: 'https://example.com'}\n",
        "apps/p.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {b: c}\n",
      }),
    ).not.toThrow();
  });

  test("plugin URLs pass when the operator allows remote resources; the tree and plugin kind rules still hold", () => {
    const gen = (body: string) => ({
      "apps/kustomization.yaml": kustomization("generators: [g.yaml]\n"),
      "apps/g.yaml": `apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: g}\n${body}`,
    });
    expect(() => check(gen("files: [k=https://example.com/x]\n"), "apps", true)).not.toThrow();
    expect(() => check(gen("files: [k=/etc/passwd]\n"), "apps", true)).toThrow(
      `apps/g.yaml: ConfigMapGenerator/g: files[0]: "/etc/passwd" is an absolute path`,
    );
    expect(() =>
      check(
        {
          "apps/kustomization.yaml": kustomization("generators: [g.yaml]\n"),
          "apps/g.yaml": "apiVersion: example.com/v1\nkind: X\nmetadata: {name: x}\n",
        },
        "apps",
        true,
      ),
    ).toThrow("only kustomize's built-in plugins (apiVersion: builtin) are supported");
  });

  test("a modest number of aliases in a resource passes", () => {
    expect(() =>
      check({
        "apps/kustomization.yaml": kustomization("resources: [cm.yaml]\n"),
        "apps/cm.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: &l {app: a}}\nx: [${Array.from({ length: 20 }, () => "*l").join(",")}]\n`,
      }),
    ).not.toThrow();
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

describe("the alias bound's shortcut", () => {
  // A chain of anchors, the i-th referring `counts[i]` times to the one before: it expands by their product.
  const chain = (counts: number[]) => {
    const lines = ["a0: &a0 [lol]"];
    counts.forEach((n, i) => {
      lines.push(`a${i + 1}: &a${i + 1} [${Array.from({ length: n }, () => `*a${i}`).join(", ")}]`);
    });
    return `${lines.join("\n")}\n`;
  };
  const where = { file: "apps/x.yaml" };

  it("is 6 `*` for the bound of 100, and the library agrees that the worst 6 aliases stay inside it", () => {
    expect(maxYamlAliasCount).toBe(100);
    expect(boundedAliasTokens).toBe(6);
    // Six single references in a chain expand 2^6 = 64 by the library's count: not parsed by us, and parsing it
    // would have passed.
    const worst6 = chain([1, 1, 1, 1, 1, 1]);
    expect(() => parseAllDocuments(worst6).map((d) => d.toJS({ maxAliasCount: 100 }))).not.toThrow();
    expect(() => assertBoundedYaml(worst6, where)).not.toThrow();
  });

  it("7 aliases that expand past the bound are parsed and refused (2^7 = 128)", () => {
    const over = chain([1, 1, 1, 1, 1, 1, 1]);
    expect(() => parseAllDocuments(over).map((d) => d.toJS({ maxAliasCount: 100 }))).toThrow(
      /Excessive alias/,
    );
    expect(() => assertBoundedYaml(over, where)).toThrow(/apps\/x.yaml: YAML aliases expand too far/);
  });

  it("stars that are no aliases count too (the shortcut only ever parses more)", () => {
    expect(() => assertBoundedYaml(`schedule: "*/5 * * * *"\n${chain([1])}`, where)).not.toThrow();
    // A bomb hidden behind stars in comments is still parsed and refused.
    expect(() => assertBoundedYaml(`# * * *\n${chain([1, 1, 1, 1, 1, 1, 1])}`, where)).toThrow(
      /YAML aliases expand too far/,
    );
    expect(() => assertBoundedYaml(`# * * * * * *\n${chain([3, 3, 3, 3])}`, where)).toThrow(
      /YAML aliases expand too far/,
    );
  });
});
