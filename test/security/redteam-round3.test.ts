// Red team, round 3: kustomize runs without its load restrictor (as Flux), so the reference check
// (src/build/kustomize-references.ts and friends) is the only wall between a fork's kustomization and the bot's
// disk. Every attack goes through `gitops-bot build` (the same planTree/buildKustomization a PR preview runs) with
// a canary file beside the repository, and asserts the canary never shows in the output or an error, and that a
// refusal names the file and field. Attacks that still got through this round are not here (a failing test would
// break the tree): they are in the round's report with a reproduction.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { prepareWorkTree } from "../../src/build/kustomize.js";
import { cli } from "../support/cli.js";
import { fluxKustomization, writeTree } from "../support/repo-tree.js";

const CANARY = `rt3-canary-${Math.random().toString(36).slice(2)}-${Date.now()}`;
const CANARY_B64 = Buffer.from(`${CANARY}\n`).toString("base64").slice(0, 16);

/** Paths an attack may name: canaries beside the repository (absolute, and relative from apps/). */
interface Paths {
  /** The directory holding the canaries and the repository. */
  base: string;
  repo: string;
  /** Absolute paths of the canaries. */
  txt: string;
  yaml: string;
  env: string;
  /** A directory outside with its own kustomization naming the canary. */
  outside: string;
  /** The same, relative from apps/ of the work tree (the copy kustomize runs in lives in the temp dir). */
  up: (abs: string) => string;
}

const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;

function setup(files: (p: Paths) => Record<string, string>, after?: (p: Paths) => void): Paths {
  const base = mkdtempSync(join(tmpdir(), "rt3-"));
  const repo = join(base, "repo");
  const p: Paths = {
    base,
    repo,
    txt: join(base, "secret.txt"),
    yaml: join(base, "secret.yaml"),
    env: join(base, "secret.env"),
    outside: join(base, "outside"),
    // climbing far enough from any work tree depth, then down to the absolute path
    up: (abs: string) => `${"../".repeat(24)}${abs.slice(1)}`,
  };
  writeFileSync(p.txt, `${CANARY}\n`);
  writeFileSync(p.env, `KEY=${CANARY}\n`);
  writeFileSync(
    p.yaml,
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  leaked: ${CANARY}\n`,
  );
  mkdirSync(p.outside);
  writeFileSync(join(p.outside, "kustomization.yaml"), "resources:\n  - ../secret.yaml\n");
  writeTree(repo, {
    "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
    "apps/cm.yaml": cm("a"),
    "shared/cm.yaml": cm("shared"),
    ...files(p),
  });
  after?.(p);
  return p;
}

async function build(p: Paths): Promise<{ code: number; out: string; err: string }> {
  const res = await cli(["build", join(p.repo, "clusters/dev"), "--repo", p.repo]);
  const all = res.out + res.err;
  expect(all).not.toContain(CANARY);
  expect(all).not.toContain(CANARY_B64);
  return res;
}

const k = (body: string) => ({ "apps/kustomization.yaml": body });
const plugin = (kind: string, body: string) =>
  `apiVersion: builtin\nkind: ${kind}\nmetadata:\n  name: p\n${body}`;
/** An inline plugin configuration as one list entry (a YAML block scalar). */
const inline = (text: string) => `  - |\n${text.replace(/^/gm, "    ")}\n`;

type Attack = [name: string, files: (p: Paths) => Record<string, string>, refusal: RegExp];

// Every path-bearing field, with absolute paths, climbs and the spellings a path may take.
const fieldAttacks: Attack[] = [
  [
    "resources: ~ (no home expansion)",
    () => k("resources:\n  - ~/secret.yaml\n"),
    /resources\[0\]|~\/secret/,
  ],
  ["resources: file://", (p) => k(`resources:\n  - file://${p.yaml}\n`), /resources\[0\].*file:\/\//],
  ["resources: git::file://", (p) => k(`resources:\n  - git::file://${p.base}\n`), /resources\[0\]/],
  ["resources: FILE:// in capitals", (p) => k(`resources:\n  - FILE://${p.yaml}\n`), /resources\[0\]/],
  [
    "resources: URL-encoded climb",
    (p) => k(`resources:\n  - '${p.up(p.yaml).replaceAll("..", "%2e%2e")}'\n`),
    /resources\[0\]|does not exist/,
  ],
  [
    "resources: backslash climb",
    (p) => k(`resources:\n  - '${p.up(p.yaml).replaceAll("/", "\\")}'\n`),
    /resources\[0\]|does not exist/,
  ],
  ["resources: a climb", (p) => k(`resources:\n  - ${p.up(p.yaml)}\n`), /resources\[0\].*leads outside/],
  ["resources: a directory outside", (p) => k(`resources:\n  - ${p.outside}\n`), /resources\[0\].*absolute/],
  ["bases: absolute", (p) => k(`bases:\n  - ${p.outside}\n`), /bases\[0\].*absolute/],
  [
    "components: a climb",
    (p) => k(`components:\n  - ${p.up(p.outside)}\n`),
    /components\[0\].*leads outside/,
  ],
  ["crds: absolute", (p) => k(`resources: [cm.yaml]\ncrds:\n  - ${p.yaml}\n`), /crds\[0\].*absolute/],
  [
    "configurations: a climb",
    (p) => k(`resources: [cm.yaml]\nconfigurations:\n  - ${p.up(p.yaml)}\n`),
    /configurations\[0\].*leads outside/,
  ],
  ["generators: absolute", (p) => k(`generators:\n  - ${p.yaml}\n`), /generators\[0\].*absolute/],
  [
    "transformers: a climb",
    (p) => k(`resources: [cm.yaml]\ntransformers:\n  - ${p.up(p.yaml)}\n`),
    /transformers\[0\].*leads outside/,
  ],
  [
    "validators: absolute",
    (p) => k(`resources: [cm.yaml]\nvalidators:\n  - ${p.yaml}\n`),
    /validators\[0\].*absolute/,
  ],
  [
    "patches[].path: absolute",
    (p) => k(`resources: [cm.yaml]\npatches:\n  - path: ${p.yaml}\n`),
    /patches\[0\]\.path.*absolute/,
  ],
  [
    "patchesJson6902[].path: a climb",
    (p) =>
      k(
        `resources: [cm.yaml]\npatchesJson6902:\n  - target: {version: v1, kind: ConfigMap, name: a}\n    path: ${p.up(p.yaml)}\n`,
      ),
    /patchesJson6902\[0\]\.path.*leads outside/,
  ],
  [
    "patchesStrategicMerge: absolute",
    (p) => k(`resources: [cm.yaml]\npatchesStrategicMerge:\n  - ${p.yaml}\n`),
    /patchesStrategicMerge\[0\].*absolute/,
  ],
  [
    "replacements[].path: absolute",
    (p) => k(`resources: [cm.yaml]\nreplacements:\n  - path: ${p.yaml}\n`),
    /replacements\[0\]\.path.*absolute/,
  ],
  [
    "openapi.path: a climb",
    (p) => k(`resources: [cm.yaml]\nopenapi:\n  path: ${p.up(p.yaml)}\n`),
    /openapi\.path.*leads outside/,
  ],
  [
    "configMapGenerator files key=absolute",
    (p) => k(`configMapGenerator:\n  - name: x\n    files:\n      - k=${p.txt}\n`),
    /configMapGenerator\[0\]\.files\[0\].*absolute/,
  ],
  [
    "secretGenerator env (singular): a climb",
    (p) => k(`secretGenerator:\n  - name: x\n    env: ${p.up(p.env)}\n`),
    /secretGenerator\[0\]\.env.*leads outside/,
  ],
  [
    "secretGenerator envs: absolute",
    (p) => k(`secretGenerator:\n  - name: x\n    envs:\n      - ${p.env}\n`),
    /secretGenerator\[0\]\.envs\[0\].*absolute/,
  ],
  [
    "helmCharts valuesFile / additionalValuesFiles",
    (p) => k(`helmCharts:\n  - name: x\n    valuesFile: ${p.yaml}\n    additionalValuesFiles: [${p.yaml}]\n`),
    /helmCharts.*Helm chart inflation/,
  ],
  [
    "helmGlobals.chartHome",
    (p) => k(`helmGlobals:\n  chartHome: ${p.base}\n`),
    /helmGlobals.*Helm chart inflation/,
  ],
  [
    "buildMetadata and sortOptions are not paths (a file field beside them still is)",
    (p) =>
      k(
        `resources: [cm.yaml]\nbuildMetadata: [originAnnotations]\nsortOptions: {order: fifo}\npatches:\n  - path: ${p.yaml}\n`,
      ),
    /patches\[0\]\.path/,
  ],
];

// Kustomization files kustomize finds under other names, and YAML features our parser and Go's read differently.
const yamlAttacks: Attack[] = [
  [
    "a resources directory whose kustomization is named Kustomization",
    (p) => ({
      ...k("resources:\n  - ../sub\n"),
      "sub/Kustomization": `resources:\n  - ${p.up(p.yaml)}\n`,
    }),
    /sub\/Kustomization: resources\[0\]/,
  ],
  [
    "a resources directory whose kustomization is named kustomization.yml",
    (p) => ({
      ...k("resources:\n  - ../sub\n"),
      "sub/kustomization.yml": `configMapGenerator:\n  - name: x\n    files: [${p.txt}]\n`,
    }),
    /sub\/kustomization\.yml: configMapGenerator\[0\]\.files\[0\]/,
  ],
  [
    "a component pulled from inside that points out",
    (p) => ({
      ...k("resources: [cm.yaml]\ncomponents:\n  - ../comp\n"),
      "comp/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - ${p.yaml}\n`,
    }),
    /comp\/kustomization\.yaml: resources\[0\]/,
  ],
  [
    "duplicate keys (Go would keep the last)",
    (p) => k(`resources: [cm.yaml]\nresources: [${p.yaml}]\n`),
    /apps\/kustomization\.yaml: invalid YAML: Map keys must be unique/,
  ],
  [
    "multiple documents in kustomization.yaml",
    (p) => k(`resources: [cm.yaml]\n---\nresources: [${p.yaml}]\n`),
    /apps\/kustomization\.yaml: invalid YAML/,
  ],
  [
    "JSON instead of YAML",
    (p) => k(JSON.stringify({ resources: ["cm.yaml", p.up(p.yaml)] })),
    /apps\/kustomization\.yaml: resources\[1\]/,
  ],
  ["a BOM", (p) => k(`\uFEFFresources:\n  - ${p.yaml}\n`), /apps\/kustomization\.yaml: resources\[0\]/],
  [
    "CRLF line ends",
    (p) => k(`resources:\r\n  - ${p.yaml}\r\n`),
    /apps\/kustomization\.yaml: resources\[0\]/,
  ],
  [
    "tab indentation",
    (p) => k(`resources:\n\t- ${p.yaml}\n`),
    /apps\/kustomization\.yaml: invalid YAML: Tabs/,
  ],
  [
    "an anchor on an allowed field aliased into resources",
    (p) => k(`buildMetadata: &a\n  - ${p.yaml}\nresources: *a\n`),
    /apps\/kustomization\.yaml: resources\[0\]/,
  ],
  [
    "a !!binary openapi.path",
    (p) => k(`resources: [cm.yaml]\nopenapi:\n  path: !!binary ${Buffer.from(p.yaml).toString("base64")}\n`),
    /openapi\.path: must be a string/,
  ],
  [
    "a !!str-tagged number-looking resource climbing out",
    (p) => k(`resources:\n  - !!str ${p.up(p.yaml)}\n`),
    /resources\[0\].*leads outside/,
  ],
  [
    "a ligature (\uFB01) spelling files in a generator",
    (p) => k(`configMapGenerator:\n  - name: x\n    \uFB01les: [${p.txt}]\n`),
    /configMapGenerator\[0\]\.\uFB01les/,
  ],
  [
    "a kustomization.yaml that is a directory beside a kustomization.yml",
    (p) => ({
      "apps/kustomization.yaml/x": "a: b\n",
      "apps/kustomization.yml": `resources: [cm.yaml, ${p.yaml}]\n`,
    }),
    /apps\/kustomization\.yaml/,
  ],
];

// Plugin configurations, as files and inline: every built-in kind that loads a file.
const pluginAttacks: Attack[] = [
  [
    "inline PatchTransformer path",
    (p) =>
      k(`resources: [cm.yaml]\ntransformers:\n${inline(plugin("PatchTransformer", `path: ${p.yaml}\n`))}`),
    /transformers\[0\]\.path.*absolute/,
  ],
  [
    "inline PatchJson6902Transformer path",
    (p) =>
      k(
        `resources: [cm.yaml]\ntransformers:\n${inline(plugin("PatchJson6902Transformer", `target: {kind: ConfigMap, name: a}\npath: ${p.up(p.yaml)}\n`))}`,
      ),
    /transformers\[0\].*leads outside/,
  ],
  [
    "inline ReplacementTransformer replacements[].path",
    (p) =>
      k(
        `resources: [cm.yaml]\ntransformers:\n${inline(plugin("ReplacementTransformer", `replacements:\n  - path: ${p.yaml}\n`))}`,
      ),
    /transformers\[0\]\.replacements\[0\]\.path/,
  ],
  [
    "inline SecretGenerator envs",
    (p) => k(`generators:\n${inline(plugin("SecretGenerator", `envs: [${p.env}]\n`))}`),
    /generators\[0\]\.envs\[0\]/,
  ],
  [
    "inline HelmChartInflationGenerator",
    (p) =>
      k(
        `generators:\n${inline(plugin("HelmChartInflationGenerator", `name: x\nchartHome: ${p.base}\nvaluesFile: ${p.yaml}\n`))}`,
      ),
    /HelmChartInflationGenerator/,
  ],
  [
    "a one-line flow mapping generator",
    (p) =>
      k(
        `generators:\n  - '{apiVersion: builtin, kind: ConfigMapGenerator, metadata: {name: x}, files: [${p.txt}]}'\n`,
      ),
    /generators\[0\]\.files\[0\]/,
  ],
  [
    "a generator file with two documents, the second reading out",
    (p) => ({
      ...k("generators: [gen.yaml]\n"),
      "apps/gen.yaml": `${plugin("ConfigMapGenerator", "literals: [a=b]\n")}---\n${plugin("ConfigMapGenerator", `files: [${p.txt}]\n`)}`,
    }),
    /apps\/gen\.yaml: ConfigMapGenerator\/p: files\[0\]/,
  ],
  [
    "a PatchStrategicMergeTransformer file with a path out",
    (p) => ({
      ...k("resources: [cm.yaml]\ntransformers: [psm.yaml]\n"),
      "apps/psm.yaml": plugin("PatchStrategicMergeTransformer", `paths: [${p.yaml}]\n`),
    }),
    /apps\/psm\.yaml: PatchStrategicMergeTransformer\/p: paths\[0\]/,
  ],
  [
    "an exec plugin",
    () => ({
      ...k("generators: [gen.yaml]\n"),
      "apps/gen.yaml": "apiVersion: someteam.example.com/v1\nkind: Cat\nmetadata:\n  name: x\n",
    }),
    /only kustomize's built-in plugins/,
  ],
  [
    "a plugin directory (a kustomization whose output would be configurations)",
    () => ({ ...k("generators: [../gens]\n"), "gens/kustomization.yaml": "resources: []\n" }),
    /generators\[0\].*is a directory/,
  ],
  [
    "a git::file:// component shadowed by a local directory",
    (p) => ({
      ...k(`resources: [cm.yaml]\ncomponents:\n  - "git::file://${p.base}"\n`),
      [`apps/git::file:${p.base}/kustomization.yaml`]: "kind: Component\n",
    }),
    /components\[0\].*file:\/\//,
  ],
];

// The Flux Kustomization's own fields.
const fluxAttacks: Attack[] = [
  [
    "spec.path ..",
    () => ({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "../" }),
    }),
    /Kustomization\/flux-system\/apps: spec\.path: .*leaves the root/,
  ],
  [
    "spec.path absolute",
    (p) => ({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: "flux-system",
        path: p.outside,
      }),
    }),
    /spec\.path: .*absolute/,
  ],
  [
    "spec.components climbing out",
    () => ({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: "flux-system",
        path: "./apps",
        extra: "  components:\n    - ../../outside\n",
      }),
    }),
    /spec\.components\[0\].*leaves the root/,
  ],
  [
    "spec.patches[].path (not a Flux field; kustomize would read it)",
    (p) => ({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: "flux-system",
        path: "./apps",
        extra: `  patches:\n    - path: ${p.yaml}\n`,
      }),
    }),
    /spec\.patches\.0/,
  ],
  [
    "the cluster path's own kustomization.yaml (built directly, not through the overlay)",
    (p) => ({ "clusters/dev/kustomization.yaml": `resources:\n  - apps.yaml\n  - ${p.yaml}\n` }),
    /clusters\/dev\/kustomization\.yaml: resources\[1\].*absolute/,
  ],
];

describe("round 3: every path kustomize reads stays in the work tree", () => {
  it.each([...fieldAttacks, ...yamlAttacks, ...pluginAttacks, ...fluxAttacks])(
    "%s: refused naming file and field, canary unseen",
    async (_name, files, refusal) => {
      const res = await build(setup(files));
      expect(res.code).toBe(2);
      expect(res.err).toMatch(refusal);
    },
  );
});

describe("round 3: symlinks", () => {
  const refusedAtCopy = async (p: Paths, link: string) => {
    const res = await build(p);
    expect(res.code).toBe(2);
    expect(res.err).toContain(`${link}: symlink leads outside the repository`);
  };

  it("a relative file symlink out", async () => {
    const p = setup(
      () => k("resources: [leak.yaml]\n"),
      (q) => symlinkSync("../../secret.yaml", join(q.repo, "apps/leak.yaml")),
    );
    await refusedAtCopy(p, "apps/leak.yaml");
  });

  it("a symlink chain inside the repository whose last link leads out", async () => {
    const p = setup(
      () => k("resources: [a.yaml]\n"),
      (q) => {
        symlinkSync("b.yaml", join(q.repo, "apps/a.yaml"));
        symlinkSync("../shared/c.yaml", join(q.repo, "apps/b.yaml"));
        symlinkSync(q.yaml, join(q.repo, "shared/c.yaml"));
      },
    );
    const res = await build(p);
    expect(res.code).toBe(2);
    expect(res.err).toMatch(/symlink leads outside the repository/);
  });

  it("a directory symlink out, with the kustomization reached through it", async () => {
    const p = setup(
      () => k("resources: [linked]\n"),
      (q) => symlinkSync(q.outside, join(q.repo, "apps/linked")),
    );
    await refusedAtCopy(p, "apps/linked");
  });

  it("a file whose target is inside but a parent on the way is a symlink out", async () => {
    const p = setup(
      () => k("resources: [up/repo/shared/cm.yaml]\n"),
      (q) => symlinkSync(q.base, join(q.repo, "apps/up")),
    );
    await refusedAtCopy(p, "apps/up");
  });

  it("kustomization.yaml itself a symlink out", async () => {
    const p = setup(
      () => ({}),
      (q) => symlinkSync(join(q.outside, "kustomization.yaml"), join(q.repo, "apps/kustomization.yaml")),
    );
    await refusedAtCopy(p, "apps/kustomization.yaml");
  });

  it("a directory symlinked inside whose kustomization climbs relative to its real place", async () => {
    const p = setup(
      (q) => ({
        ...k("resources: [sub]\n"),
        "deep/a/kustomization.yaml": `resources:\n  - ../../../${basename(q.base)}/secret.yaml\n`,
      }),
      (q) => symlinkSync("../deep/a", join(q.repo, "apps/sub")),
    );
    const res = await build(p);
    expect(res.code).toBe(2);
    expect(res.err).toMatch(/deep\/a\/kustomization\.yaml: resources\[0\].*leads outside the tree/);
  });

  it("an absolute symlink into the original checkout (inside when copied, outside the private copy)", async () => {
    const p = setup(
      () => k("resources: [shared/cm.yaml]\n"),
      (q) => symlinkSync(join(q.repo, "shared"), join(q.repo, "apps/shared")),
    );
    const res = await build(p);
    expect(res.code).toBe(2);
    expect(res.err).toMatch(/resources\[0\]: "shared\/cm\.yaml" leads outside the tree through a symlink/);
  });

  it("a plain directory (generated kustomization) skips a symlink into the original checkout", async () => {
    const p = setup(
      () => ({ "apps/cm.yaml": cm("a") }),
      (q) => symlinkSync(join(q.repo, "shared/cm.yaml"), join(q.repo, "apps/linked.yaml")),
    );
    const res = await build(p);
    expect(res.code).toBe(0);
    expect(res.out).toContain("name: a");
    expect(res.out).not.toContain("name: shared");
  });
});

describe("round 3: what kustomize reads that is not a reference", () => {
  it("configMapGenerator literals with @file are literals (kustomize has no @file form)", async () => {
    const res = await build(
      setup((p) => k(`configMapGenerator:\n  - name: lit\n    literals: ["k=@${p.txt}", "@${p.txt}"]\n`)),
    );
    expect(res.code).toBe(2);
    expect(res.err).toMatch(/invalid literal source/);
  });

  it("an env file naming variables without values gets none of the build's environment", async () => {
    const res = await build(
      setup(() => ({
        ...k("configMapGenerator:\n  - name: env\n    envs: [e.env]\n"),
        "apps/e.env": "HOME\nPATH\nTMPDIR\nKUBECONFIG\nPRIVATE_KEY\nWEBHOOK_SECRET\nGITHUB_TOKEN\n",
      })),
    );
    expect(res.code).toBe(0);
    expect(res.out).toContain('PATH: ""');
    expect(res.out).not.toContain(process.env.HOME ?? "/nonexistent-home");
  });

  it("an openapi schema whose $ref names a file outside is not followed", async () => {
    const res = await build(
      setup((p) => ({
        ...k("resources: [cm.yaml]\nopenapi:\n  path: schema.json\n"),
        "apps/schema.json": JSON.stringify({
          swagger: "2.0",
          info: { title: "x", version: "1" },
          paths: {},
          definitions: {
            "io.k8s.api.core.v1.ConfigMap": { $ref: `${p.yaml}#/x` },
            other: { $ref: `file://${p.txt}` },
          },
        }),
      })),
    );
    expect(res.code).toBe(0);
  });

  it("a CRD whose schema $ref names a file outside is not followed", async () => {
    await build(
      setup((p) => ({
        ...k("resources: [cm.yaml]\ncrds: [crd.json]\n"),
        "apps/crd.json": JSON.stringify({
          apiVersion: "apiextensions.k8s.io/v1",
          kind: "CustomResourceDefinition",
          metadata: { name: "xs.example.com" },
          spec: {
            group: "example.com",
            names: { kind: "X", plural: "xs" },
            versions: [
              {
                name: "v1",
                served: true,
                storage: true,
                schema: { openAPIV3Schema: { properties: { spec: { $ref: p.yaml } } } },
              },
            ],
          },
        }),
      })),
    );
  });

  it("a Flux inline patch that is a file name is not read as one", async () => {
    const res = await build(
      setup((p) => ({
        "clusters/dev/apps.yaml": fluxKustomization({
          name: "apps",
          namespace: "flux-system",
          path: "./apps",
          extra: `  patches:\n    - patch: ${p.yaml}\n`,
        }),
      })),
    );
    expect(res.code).toBe(2);
    expect(res.err).toMatch(/unable to parse SM or JSON patch/);
  });

  it("a remote-looking name with a leading space is a local (missing) name, not a clone", async () => {
    const res = await build(setup((p) => k(`resources:\n  - cm.yaml\n  - " file://${p.base}"\n`)));
    expect(res.code).toBe(2);
  });

  it("user@host:path names kustomize's repository parser does not take are local (missing) names", async () => {
    for (const ref of ["_@127.0.0.1:org/repo", "1@127.0.0.1:org/repo", "a.b@127.0.0.1:org/repo"]) {
      const res = await build(setup(() => k(`resources:\n  - cm.yaml\n  - "${ref}"\n`)));
      expect(res.code).toBe(2);
      expect(res.err).toMatch(/no such file or directory|does not exist/);
    }
  });

  it("kustomization.yaml and Kustomization both present: kustomize refuses to choose", async () => {
    const res = await build(
      setup((p) => ({ ...k("resources: [cm.yaml]\n"), "apps/Kustomization": `resources: [${p.yaml}]\n` })),
    );
    expect(res.code).toBe(2);
    expect(res.err).toMatch(/multiple kustomization files/i);
  });
});

describe("round 3: texts Go's YAML reads with line breaks ours does not see", () => {
  // Go's YAML (kustomize) breaks lines at a lone CR, NEL, U+2028 and U+2029; ours does not. Each such text in a
  // kustomization or plugin configuration is refused before kustomize runs (src/build/yaml-line-breaks.ts).
  const NEL = "\u0085";
  const refusal = /holds (NEL|LINE SEPARATOR|PARAGRAPH SEPARATOR|a carriage return)/;
  const generator = (p: Paths) =>
    JSON.stringify({
      apiVersion: "builtin",
      kind: "ConfigMapGenerator",
      metadata: { name: "leak" },
      files: [p.txt],
    });

  for (const [name, br] of [
    ["NEL", NEL],
    ["LINE SEPARATOR", "\u2028"],
    ["PARAGRAPH SEPARATOR", "\u2029"],
    ["a lone CR", "\r"],
  ] as const) {
    it(`a kustomization that is one comment for us up to ${name} is refused (was: read whole by kustomize)`, async () => {
      const res = await build(
        setup((p) =>
          k(
            `# x${br}resources:${br}- cm.yaml${br}configMapGenerator:${br}- name: g${br}  files:${br}  - ${p.txt}${br}`,
          ),
        ),
      );
      expect(res.code).toBe(2);
      expect(res.err).toMatch(/apps\/kustomization\.yaml/);
      expect(res.err).toMatch(refusal);
    });

    it(`an inline generator hidden behind a comment and ${name} in a JSON kustomization is refused`, async () => {
      const res = await build(
        setup((p) =>
          k(JSON.stringify({ resources: ["cm.yaml"], generators: [`#c${br}${br}${generator(p)}`] })),
        ),
      );
      expect(res.code).toBe(2);
      // A raw break is refused with the file's line; an escaped one (JSON "\r") at the field.
      expect(res.err).toMatch(/apps\/kustomization\.yaml: (line 1|generators\[0\])/);
      expect(res.err).toMatch(refusal);
    });
  }

  it("the cluster path's own kustomization.yaml with NEL-hidden fields is refused", async () => {
    const res = await build(
      setup((p) => ({
        "clusters/dev/kustomization.yaml": `# x${NEL}resources:${NEL}- ${p.yaml}${NEL}`,
      })),
    );
    expect(res.code).toBe(2);
    expect(res.err).toMatch(refusal);
  });

  it("a JSON escape of NEL in an inline generator is refused too (it would be written back raw)", async () => {
    const res = await build(
      setup((p) =>
        k(
          `{"resources":["cm.yaml"],"generators":["#c\\u0085\\u0085${generator(p).replaceAll('"', '\\"')}"]}`,
        ),
      ),
    );
    expect(res.code).toBe(2);
    expect(res.err).toMatch(refusal);
  });

  it("a plugin configuration file that is one comment for us up to NEL is refused", async () => {
    const res = await build(
      setup((p) => ({
        ...k("resources: [cm.yaml]\ngenerators: [gen.yaml]\n"),
        "apps/gen.yaml": `# x${NEL}apiVersion: builtin${NEL}kind: ConfigMapGenerator${NEL}metadata:${NEL}  name: leak${NEL}files:${NEL}- ${p.txt}${NEL}`,
      })),
    );
    expect(res.code).toBe(2);
    expect(res.err).toMatch(/apps\/gen\.yaml/);
    expect(res.err).toMatch(refusal);
  });

  it("a plugin configuration file with lone CRs is refused", async () => {
    const res = await build(
      setup((p) => ({
        ...k("resources: [cm.yaml]\ngenerators: [gen.yaml]\n"),
        "apps/gen.yaml": `# x\rapiVersion: builtin\rkind: ConfigMapGenerator\rmetadata:\r  name: leak\rfiles:\r- ${p.txt}\r`,
      })),
    );
    expect(res.code).toBe(2);
    expect(res.err).toMatch(refusal);
  });

  it("CRLF line ends are plain line breaks and still build", async () => {
    const res = await build(setup(() => k("resources:\r\n  - cm.yaml\r\n")));
    expect(res.code).toBe(0);
    expect(res.out).toContain("name: a");
  });

  it("NEL folding in a resource name cannot turn it into a climb", async () => {
    const res = await build(
      setup((p) =>
        k(
          JSON.stringify({
            resources: ["cm.yaml", `.${NEL}./.${NEL}./.${NEL}.${p.yaml}`, `x${NEL}${NEL}${p.yaml}`],
          }),
        ),
      ),
    );
    expect(res.code).toBe(2);
  });
});

describe("round 3: a local file cannot shadow a repository URL", () => {
  it("a file named git::file:///… that does not load as resources is never cloned from", async () => {
    const gitRepo = mkdtempSync(join(tmpdir(), "rt3-shadow-"));
    writeFileSync(join(gitRepo, "kustomization.yaml"), "resources: [cm.yaml]\n");
    writeFileSync(
      join(gitRepo, "cm.yaml"),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata:\n  v: ${CANARY}\n`,
    );
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", gitRepo, "-c", "user.email=a@b", "-c", "user.name=a", ...args]);
    git("init", "-q");
    git("add", ".");
    git("commit", "-qm", "x");
    const ref = `git::file://${gitRepo}`;
    const res = await build(
      setup(() => ({
        ...k(`resources:\n  - cm.yaml\n  - "${ref}"\n`),
        [`apps/git::file:${gitRepo}`]: "{\n",
      })),
    );
    expect(res.code).toBe(2);
    expect(res.err).toMatch(/resources\[1\].*file:\/\//);
  });

  for (const ref of [
    "git::http://127.0.0.1:9/org/repo.git",
    "github.com/org/repo",
    "git@example.com:org/repo",
  ]) {
    it(`a file named ${ref} is checked as the remote reference kustomize would fetch`, async () => {
      const res = await build(
        setup(() => ({
          ...k(`resources:\n  - cm.yaml\n  - "${ref}"\n`),
          [`apps/${ref}`]: "apiVersion: v1\n",
        })),
      );
      expect(res.code).toBe(2);
      expect(res.err).toMatch(/resources\[1\].*remote reference/);
    });
  }

  it("a local file whose name only looks like user@ (no colon) is still a local file", async () => {
    const res = await build(
      setup(() => ({ ...k("resources:\n  - app@v1.yaml\n"), "apps/app@v1.yaml": cm("versioned") })),
    );
    expect(res.code).toBe(0);
    expect(res.out).toContain("name: versioned");
  });
});

describe("round 3: the private work tree", () => {
  it("another repository's live work tree in the temp dir is not reachable by a relative path", async () => {
    const other = setup(() => ({}));
    const otherWork = prepareWorkTree(other.base); // holds secret.txt at its top
    try {
      const res = await build(
        setup(() =>
          k(
            `configMapGenerator:\n  - name: x\n    files:\n      - ../../${basename(otherWork.dir)}/secret.txt\n`,
          ),
        ),
      );
      expect(res.code).toBe(2);
      expect(res.err).toMatch(/configMapGenerator\[0\]\.files\[0\].*leads outside the tree/);
    } finally {
      otherWork.cleanup();
    }
  });

  it("a git repository on the bot's disk is not cloned through a file:// resource", async () => {
    const gitRepo = mkdtempSync(join(tmpdir(), "rt3-git-"));
    writeFileSync(join(gitRepo, "kustomization.yaml"), "resources: [cm.yaml]\n");
    writeFileSync(
      join(gitRepo, "cm.yaml"),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata:\n  v: ${CANARY}\n`,
    );
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", gitRepo, "-c", "user.email=a@b", "-c", "user.name=a", ...args]);
    git("init", "-q");
    git("add", ".");
    git("commit", "-qm", "x");
    for (const ref of [`file://${gitRepo}`, `git::file://${gitRepo}`, `${relative("/", gitRepo)}?ref=HEAD`]) {
      const res = await build(setup(() => k(`resources:\n  - cm.yaml\n  - "${ref}"\n`)));
      expect(res.code).toBe(2);
      expect(res.err).toMatch(/resources\[1\]/);
    }
  });
});
