// Red team: YAML that is not UTF-8. Go's YAML (kustomize) decodes a file by its byte-order mark, UTF-16 included,
// while the alias check read every file as UTF-8: a UTF-16 billion laughs decoded as garbage with no `*`, was never
// parsed, and kustomize expanded it to its memory bound without naming the file. Every YAML file the check reads
// (resources, patches, kustomization files, plugin configurations) must now be UTF-8 without NUL bytes, refused by
// file name before kustomize runs. Each attack goes through buildTree or the CLI's `build`; kustomize runs with a
// 256 MiB bound here so that a regression cannot eat the shared machine's memory.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultManifestLimits } from "../../src/flux/manifests.js";
import { buildTree } from "../../src/reconcile/run.js";
import { cli } from "../support/cli.js";
import { fluxKustomization, makeRepo } from "../support/repo-tree.js";

const KUSTOMIZE_MEMORY = 256 * 1024 ** 2;

/** A `depth`×9 billion laughs as a ConfigMap: 9^depth strings once expanded. */
function laughs(depth: number): string {
  const lines = ['  l0: &l0 "lol"'];
  for (let i = 1; i <= depth; i++)
    lines.push(
      `  l${i}: &l${i} [${Array(9)
        .fill(`*l${i - 1}`)
        .join(", ")}]`,
    );
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: laughs\ndata:\n  x: y\nbomb:\n${lines.join("\n")}\n`;
}

const utf16le = (text: string) => Buffer.from(`\uFEFF${text}`, "utf16le");
const utf16be = (text: string) => utf16le(text).swap16();
const utf16leNoBom = (text: string) => Buffer.from(text, "utf16le");
function utf32le(text: string): Buffer {
  const points = [...`\uFEFF${text}`].map((c) => c.codePointAt(0) ?? 0);
  const out = Buffer.alloc(points.length * 4);
  points.forEach((p, i) => {
    out.writeUInt32LE(p, i * 4);
  });
  return out;
}
const utf32be = (text: string) => utf32le(text).swap32();

const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  a: b\n`;

/** A repository whose Kustomization `apps` builds ./apps, holding `files` (bytes written as they are). */
function repoWith(files: Record<string, string | Buffer>): string {
  const repo = makeRepo({
    "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
    "apps/.keep": "",
  });
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(repo, path)), { recursive: true });
    writeFileSync(join(repo, path), content);
  }
  return repo;
}

/** The build of `apps` through the engine: its error, or its objects' names. */
async function buildApps(repo: string): Promise<{ error?: string; names: string[]; ms: number }> {
  const started = Date.now();
  const plan = await buildTree({
    repoDir: repo,
    clusterPath: "clusters/dev",
    selfSourceNames: ["flux-system"],
    limits: defaultManifestLimits(),
    kustomize: { maxMemoryBytes: KUSTOMIZE_MEMORY },
  });
  const ms = Date.now() - started;
  const apps = plan.kustomizations.find((k) => k.ks.name === "apps");
  return {
    ...(apps?.buildError !== undefined ? { error: apps.buildError } : {}),
    names: (apps?.objects ?? []).map((o) => `${o.kind}/${o.metadata?.name}`),
    ms,
  };
}

const AT = "clusters/dev/apps.yaml: Kustomization/flux-system/apps";
const REFUSED = "is not UTF-8 text (a UTF-16 or UTF-32 file, or NUL bytes); save it as UTF-8";
const bomb = laughs(9);

const attacks: [string, Record<string, string | Buffer>, string][] = [
  [
    "UTF-16LE with a BOM, a 9×9 billion laughs as a resource",
    { "apps/kustomization.yaml": "resources: [laughs.yaml]\n", "apps/laughs.yaml": utf16le(bomb) },
    "apps/laughs.yaml",
  ],
  [
    "UTF-16BE with a BOM, as a resource",
    { "apps/kustomization.yaml": "resources: [laughs.yaml]\n", "apps/laughs.yaml": utf16be(bomb) },
    "apps/laughs.yaml",
  ],
  [
    "UTF-16LE without a BOM (NUL bytes), as a resource",
    { "apps/kustomization.yaml": "resources: [laughs.yaml]\n", "apps/laughs.yaml": utf16leNoBom(bomb) },
    "apps/laughs.yaml",
  ],
  [
    "UTF-32LE with a BOM, as a resource",
    { "apps/kustomization.yaml": "resources: [laughs.yaml]\n", "apps/laughs.yaml": utf32le(bomb) },
    "apps/laughs.yaml",
  ],
  [
    "UTF-32BE with a BOM, as a resource",
    { "apps/kustomization.yaml": "resources: [laughs.yaml]\n", "apps/laughs.yaml": utf32be(bomb) },
    "apps/laughs.yaml",
  ],
  [
    "a NUL byte in a patch file",
    {
      "apps/kustomization.yaml": "resources: [cm.yaml]\npatches: [{path: p.yaml}]\n",
      "apps/cm.yaml": cm("a"),
      "apps/p.yaml": `${cm("a")}\0${bomb.slice(bomb.indexOf("bomb:"))}`,
    },
    "apps/p.yaml",
  ],
  [
    "a UTF-16 strategic merge patch",
    {
      "apps/kustomization.yaml": "resources: [cm.yaml]\npatchesStrategicMerge: [p.yaml]\n",
      "apps/cm.yaml": cm("laughs"),
      "apps/p.yaml": utf16le(bomb),
    },
    "apps/p.yaml",
  ],
  [
    "a UTF-16 kustomization.yaml",
    {
      "apps/kustomization.yaml": utf16le(`resources: [cm.yaml]\n${bomb.slice(bomb.indexOf("bomb:"))}`),
      "apps/cm.yaml": cm("a"),
    },
    "apps/kustomization.yaml",
  ],
  [
    "a UTF-16 kustomization.yaml of a base",
    {
      "apps/kustomization.yaml": "resources: [base]\n",
      "apps/base/kustomization.yaml": utf16le("resources: [cm.yaml]\n"),
      "apps/base/cm.yaml": cm("a"),
    },
    "apps/base/kustomization.yaml",
  ],
  [
    "a UTF-16 plugin configuration",
    {
      "apps/kustomization.yaml": "resources: [cm.yaml]\ntransformers: [t.yaml]\n",
      "apps/cm.yaml": cm("a"),
      "apps/t.yaml": utf16le(
        `apiVersion: builtin\nkind: AnnotationsTransformer\nmetadata: {name: t}\nannotations: {a: b}\nfieldSpecs: [{path: metadata/annotations, create: true}]\n${bomb.slice(bomb.indexOf("bomb:"))}`,
      ),
    },
    "apps/t.yaml",
  ],
  [
    "a UTF-16 file a plugin configuration names (PatchTransformer path)",
    {
      "apps/kustomization.yaml": "resources: [cm.yaml]\ntransformers: [t.yaml]\n",
      "apps/cm.yaml": cm("laughs"),
      "apps/t.yaml": "apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: p.yaml\n",
      "apps/p.yaml": utf16le(bomb),
    },
    "apps/p.yaml",
  ],
];

describe("YAML that is not UTF-8 is refused by file name before kustomize runs", () => {
  it.each(attacks)("%s", async (_name, files, file) => {
    const res = await buildApps(repoWith(files));
    expect(res.error).toBe(`${AT}: ${file}: ${REFUSED}`);
    expect(res.error).not.toMatch(/memory/);
    expect(res.ms).toBeLessThan(1000);
  });

  it("a UTF-16 file in a directory without kustomization.yaml is left out; one made to look like a manifest is refused", async () => {
    const left = await buildApps(
      repoWith({ "apps/cm.yaml": cm("plain"), "apps/laughs.yaml": utf16le(bomb) }),
    );
    expect(left).toMatchObject({ names: ["ConfigMap/plain"] });
    expect(left.error).toBeUndefined();
    expect(left.ms).toBeLessThan(1000);

    // UTF-16LE bytes that also read as `apiVersion:` and `kind:` lines: listed by the generated kustomization,
    // then refused by the check like any other resource.
    const polyglot = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from("\napiVersion: v1\nkind: ConfigMap\n#"),
      utf16leNoBom(bomb),
    ]);
    const refused = await buildApps(repoWith({ "apps/cm.yaml": cm("plain"), "apps/poly.yaml": polyglot }));
    expect(refused.error).toBe(`${AT}: apps/poly.yaml: ${REFUSED}`);
    expect(refused.ms).toBeLessThan(1000);
  });

  it("a UTF-8 byte-order mark is still accepted, in resources, patches, plugin configurations and kustomization files", async () => {
    const bom = "\uFEFF";
    const res = await buildApps(
      repoWith({
        "apps/kustomization.yaml": `${bom}resources: [cm.yaml, base]\npatches: [{path: p.yaml}]\ntransformers: [t.yaml]\n`,
        "apps/cm.yaml": `${bom}${cm("a")}`,
        "apps/base/kustomization.yaml": `${bom}resources: [cm.yaml]\n`,
        "apps/base/cm.yaml": `${bom}${cm("b")}`,
        "apps/p.yaml": `${bom}apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {patched: "yes"}\n`,
        "apps/t.yaml": `${bom}apiVersion: builtin\nkind: AnnotationsTransformer\nmetadata: {name: t}\nannotations: {a: b}\nfieldSpecs: [{path: metadata/annotations, create: true}]\n`,
      }),
    );
    expect(res.error).toBeUndefined();
    expect(res.names.sort()).toEqual(["ConfigMap/a", "ConfigMap/b"]);
  });
});

describe("the CLI's build", () => {
  // The CLI runs kustomize with its default (2 GiB) bound: a small bomb, harmless should the check regress.
  const small = laughs(4);

  it.each([
    ["UTF-16LE", utf16le(small)],
    ["UTF-16BE", utf16be(small)],
    ["UTF-32LE", utf32le(small)],
  ])("refuses a %s resource naming the file", async (_name, bytes) => {
    const repo = repoWith({
      "apps/kustomization.yaml": "resources: [laughs.yaml]\n",
      "apps/laughs.yaml": bytes,
    });
    const started = Date.now();
    const res = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(res.code).not.toBe(0);
    expect(res.out + res.err).toContain(`apps/laughs.yaml: ${REFUSED}`);
    expect(res.out).not.toContain("lol");
  });

  it("builds a resource with a UTF-8 byte-order mark", async () => {
    const repo = repoWith({
      "apps/kustomization.yaml": "resources: [cm.yaml]\n",
      "apps/cm.yaml": `\uFEFF${cm("bom")}`,
    });
    const res = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(res.err).toBe("");
    expect(res.code).toBe(0);
    expect(res.out).toContain("name: bom");
  });
});
