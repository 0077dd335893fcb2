// kustomize runs without its load restrictor, as Flux does inside the source root: a kustomization may load files
// from anywhere in the repository, and the reference check is the only wall. Every field that names a file,
// every spelling Go's decoder would also read, every YAML feature it reads differently, symlinks and inline
// texts kustomize falls back to reading as file names are attacked here. A canary beside the repository (a
// ConfigMap and a text file) must never reach the output or an error.
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { prepareWorkTree, runKustomize } from "../../src/build/kustomize.js";
import { main } from "../../src/cli/main.js";
import { fluxKustomization, writeTree } from "../support/repo-tree.js";

const CANARY = `load-restrictor-canary-${Date.now()}`;
const canaryObject = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: canary\ndata:\n  value: ${CANARY}\n`;

/** A base directory holding the canaries, and a repository beside them. */
function base() {
  const dir = mkdtempSync(join(tmpdir(), "lr-"));
  writeFileSync(join(dir, "secret.txt"), `${CANARY}\n`);
  writeFileSync(join(dir, "secret.env"), `KEY=${CANARY}\n`);
  writeFileSync(join(dir, "secret.yaml"), canaryObject);
  mkdirSync(join(dir, "outside"));
  writeFileSync(join(dir, "outside/kustomization.yaml"), "resources:\n  - ../secret.yaml\n");
  return { dir, repo: join(dir, "repo") };
}

const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;

type Rel = { yaml: string; txt: string; env: string; dir: string; abs: string };

function setup(files: (rel: Rel) => Record<string, string>) {
  const { dir, repo } = base();
  const apps = join(repo, "apps");
  const rel = {
    yaml: relative(apps, join(dir, "secret.yaml")),
    txt: relative(apps, join(dir, "secret.txt")),
    env: relative(apps, join(dir, "secret.env")),
    dir: relative(apps, join(dir, "outside")),
    abs: join(dir, "secret.yaml"),
  };
  writeTree(repo, {
    "apps/cm.yaml": cm("a"),
    "shared/cm.yaml": cm("shared"),
    "shared/data.txt": "shared-data\n",
    ...files(rel),
  });
  return { base: dir, repo, work: () => prepareWorkTree(repo) };
}

async function buildError(work: { dir: string; cleanup(): void }, dir = "apps"): Promise<Error> {
  try {
    const out = await runKustomize(join(work.dir, dir)).catch((e: Error) => e);
    expect(out).toBeInstanceOf(Error);
    return out as Error;
  } finally {
    work.cleanup();
  }
}

const k = (body: string) => ({ "apps/kustomization.yaml": body });

describe("files inside the repository load as in Flux", () => {
  it("resources, generator files and patches from another directory of the repository", async () => {
    const s = setup(() => ({
      "apps/kustomization.yaml":
        "resources:\n  - cm.yaml\n  - ../shared/cm.yaml\nconfigMapGenerator:\n  - name: gen\n    files:\n      - ../shared/data.txt\npatches:\n  - path: ../shared/patch.yaml\n",
      "shared/patch.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  patched: 'yes'\n",
    }));
    const work = s.work();
    try {
      const out = await runKustomize(join(work.dir, "apps"));
      expect(out).toContain("name: shared");
      expect(out).toContain("shared-data");
      expect(out).toContain('patched: "yes"');
    } finally {
      work.cleanup();
    }
  });

  it("the user's checkout is never rewritten (the checked form goes to the private copy only)", async () => {
    const body = "# a comment\nresources:\n  - cm.yaml\n";
    const s = setup(() => k(body));
    const work = s.work();
    try {
      await runKustomize(join(work.dir, "apps"));
      expect(readFileSync(join(s.repo, "apps/kustomization.yaml"), "utf8")).toBe(body);
    } finally {
      work.cleanup();
    }
  });
});

/** A text that is a mapping as YAML, and as a file name climbs to / and down to the canary. */
const climbing = (r: Rel) => `"a: ${"../".repeat(30)}${r.abs.slice(1)}"`;

const attacks: [string, (r: Rel) => Record<string, string>, RegExp][] = [
  ["resources (a file)", (r) => k(`resources:\n  - ${r.yaml}\n`), /resources\[0\]/],
  ["resources (a directory)", (r) => k(`resources:\n  - ${r.dir}\n`), /resources\[0\]/],
  ["bases", (r) => k(`bases:\n  - ${r.dir}\n`), /bases\[0\]/],
  ["components", (r) => k(`components:\n  - ${r.dir}\n`), /components\[0\]/],
  ["crds", (r) => k(`resources: [cm.yaml]\ncrds:\n  - ${r.yaml}\n`), /crds\[0\]/],
  [
    "configurations",
    (r) => k(`resources: [cm.yaml]\nconfigurations:\n  - ${r.yaml}\n`),
    /configurations\[0\]/,
  ],
  ["generators (a file)", (r) => k(`generators:\n  - ${r.yaml}\n`), /generators\[0\]/],
  [
    "transformers (a file)",
    (r) => k(`resources: [cm.yaml]\ntransformers:\n  - ${r.yaml}\n`),
    /transformers\[0\]/,
  ],
  ["validators (a file)", (r) => k(`resources: [cm.yaml]\nvalidators:\n  - ${r.yaml}\n`), /validators\[0\]/],
  ["patches path", (r) => k(`resources: [cm.yaml]\npatches:\n  - path: ${r.yaml}\n`), /patches\[0\]\.path/],
  [
    "patchesJson6902 path",
    (r) =>
      k(
        `resources: [cm.yaml]\npatchesJson6902:\n  - target: {kind: ConfigMap, name: a, version: v1}\n    path: ${r.yaml}\n`,
      ),
    /patchesJson6902\[0\]\.path/,
  ],
  [
    "patchesStrategicMerge (a file)",
    (r) => k(`resources: [cm.yaml]\npatchesStrategicMerge:\n  - ${r.yaml}\n`),
    /patchesStrategicMerge\[0\]/,
  ],
  [
    "patchesStrategicMerge text that kustomize falls back to reading as a file name",
    (r) => k(`resources: [cm.yaml]\npatchesStrategicMerge:\n  - ${climbing(r)}\n`),
    /patchesStrategicMerge\[0\]/,
  ],
  [
    "replacements path",
    (r) => k(`resources: [cm.yaml]\nreplacements:\n  - path: ${r.yaml}\n`),
    /replacements\[0\]\.path/,
  ],
  ["openapi.path", (r) => k(`resources: [cm.yaml]\nopenapi:\n  path: ${r.yaml}\n`), /openapi\.path/],
  [
    "configMapGenerator files",
    (r) => k(`configMapGenerator:\n  - name: x\n    files:\n      - ${r.txt}\n`),
    /configMapGenerator\[0\]\.files\[0\]/,
  ],
  [
    "configMapGenerator key=file",
    (r) => k(`configMapGenerator:\n  - name: x\n    files:\n      - k=${r.txt}\n`),
    /configMapGenerator\[0\]\.files\[0\]/,
  ],
  [
    "configMapGenerator envs",
    (r) => k(`configMapGenerator:\n  - name: x\n    envs:\n      - ${r.env}\n`),
    /configMapGenerator\[0\]\.envs\[0\]/,
  ],
  [
    "configMapGenerator env",
    (r) => k(`configMapGenerator:\n  - name: x\n    env: ${r.env}\n`),
    /configMapGenerator\[0\]\.env/,
  ],
  [
    "secretGenerator files",
    (r) => k(`secretGenerator:\n  - name: x\n    files:\n      - ${r.txt}\n`),
    /secretGenerator\[0\]\.files\[0\]/,
  ],
  [
    "secretGenerator envs",
    (r) => k(`secretGenerator:\n  - name: x\n    envs:\n      - ${r.env}\n`),
    /secretGenerator\[0\]\.envs\[0\]/,
  ],
  ["an absolute resource", () => k("resources:\n  - /etc/hostname\n"), /absolute path/],
  [
    "an absolute generator file",
    () => k("configMapGenerator:\n  - name: x\n    files:\n      - /etc/hostname\n"),
    /absolute path/,
  ],
  [
    "an absolute openapi.path",
    () => k("resources: [cm.yaml]\nopenapi:\n  path: /etc/hostname\n"),
    /absolute path/,
  ],
  [
    "an inline generator with a file outside",
    (r) =>
      k(
        `generators:\n  - |\n    apiVersion: builtin\n    kind: ConfigMapGenerator\n    metadata:\n      name: x\n    files:\n      - ${r.txt}\n`,
      ),
    /generators\[0\]\.files\[0\]/,
  ],
  [
    "a transformer file whose PatchTransformer path leads out",
    (r) => ({
      ...k("resources: [cm.yaml]\ntransformers:\n  - patch.yaml\n"),
      "apps/patch.yaml": `apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npath: ${r.yaml}\ntarget:\n  kind: ConfigMap\n`,
    }),
    /apps\/patch\.yaml: PatchTransformer\/p: path: /,
  ],
  [
    "a PatchStrategicMergeTransformer path text read as a file name",
    (r) => ({
      ...k("resources: [cm.yaml]\ntransformers:\n  - psm.yaml\n"),
      "apps/psm.yaml": `apiVersion: builtin\nkind: PatchStrategicMergeTransformer\nmetadata:\n  name: p\npaths:\n  - ${climbing(r)}\n`,
    }),
    /paths\[0\]/,
  ],
  [
    "a nested component leading out",
    (r) => ({
      ...k("resources: [cm.yaml]\ncomponents:\n  - ../components/a\n"),
      "components/a/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncomponents:\n  - ../b\n`,
      "components/b/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - ../../${r.yaml}\n`,
    }),
    /components\/b\/kustomization\.yaml: resources\[0\]/,
  ],
  ["Resources, capitalised", (r) => k(`Resources:\n  - ${r.yaml}\n`), /Resources/],
  ["RESOURCES", (r) => k(`RESOURCES:\n  - ${r.yaml}\n`), /RESOURCES/],
  [
    "ConfigMapGenerator with Files",
    (r) => k(`ConfigMapGenerator:\n  - name: x\n    Files:\n      - ${r.txt}\n`),
    /ConfigMapGenerator/,
  ],
  ["a long s (ſ) for s", (r) => k(`reſources:\n  - ${r.yaml}\n`), /reſources/],
  [
    "a capitalised Path in a patch",
    (r) => k(`resources:\n  - cm.yaml\npatches:\n  - path: cm.yaml\n  - Path: ${r.yaml}\n`),
    /patches\[1\]\.Path/,
  ],
  [
    "a long s in a generator's files",
    (r) => k(`configMapGenerator:\n  - name: x\n    fileſ:\n      - ${r.txt}\n`),
    /fileſ/,
  ],
  [
    "a zero-width space after resources",
    (r) => k(`"resources\u200b":\n  - ${r.yaml}\n`),
    /not a field of a kustomization/,
  ],
  ["fullwidth letters", (r) => k(`ｒｅｓｏｕｒｃｅｓ:\n  - ${r.yaml}\n`), /not a field of a kustomization/],
  ["a merge key", (r) => k(`<<: {resources: [${r.yaml}]}\n`), /merge keys/],
  [
    "a nested merge key",
    (r) => k(`configMapGenerator:\n  - name: x\n    <<: {files: [${r.txt}]}\n`),
    /merge keys/,
  ],
  [
    "a !!binary resource (Go's YAML decodes it to the path, ours to bytes)",
    (r) => k(`resources:\n  - !!binary ${Buffer.from(r.yaml).toString("base64")}\n`),
    /resources\[0\]: must be a string/,
  ],
  [
    "a !!binary generator file in a plugin configuration",
    (r) => ({
      ...k("resources: [cm.yaml]\ngenerators:\n  - gen.yaml\n"),
      "apps/gen.yaml": `apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: x\nfiles:\n  - !!binary ${Buffer.from(r.txt).toString("base64")}\n`,
    }),
    /apps\/gen\.yaml: files\[0\]: is not plain YAML data/,
  ],
  [
    "a resource name with a newline before the climb",
    (r) => k(`resources:\n  - "x\\n/../${r.yaml}"\n`),
    /resources\[0\]/,
  ],
  ["a resource name with NUL", () => k(`resources:\n  - "cm.yaml\\0"\n`), /contains NUL/],
  [
    "a field kustomize v5 lacks (inventory)",
    () => k("resources: [cm.yaml]\ninventory: {type: ConfigMap}\n"),
    /inventory/,
  ],
  [
    "an unknown field in a generator entry",
    (r) => k(`configMapGenerator:\n  - name: x\n    fileSources: [${r.txt}]\n`),
    /configMapGenerator\[0\]\.fileSources/,
  ],
  [
    "helmCharts",
    () => k("helmCharts:\n  - name: x\n    valuesFile: ../../secret.yaml\n"),
    /Helm chart inflation/,
  ],
];

describe("nothing outside the repository, whichever field and spelling", () => {
  it.each(attacks)("%s is refused naming the file and field", async (_name, files, field) => {
    const s = setup(files);
    const err = await buildError(s.work());
    expect(err.message).not.toContain(CANARY);
    expect(err.message).toMatch(/kustomization\.yaml|\.yaml: /);
    expect(err.message).toMatch(field);
  });

  it("a symlinked file or directory leading out of the repository is refused before anything is built", () => {
    for (const [name, target] of [
      ["apps/link.yaml", "secret.yaml"],
      ["apps/linkdir", "outside"],
    ] as const) {
      const s = setup(() => k(`resources:\n  - ${name.replace("apps/", "")}\n`));
      symlinkSync(join(s.base, target), join(s.repo, name));
      expect(() => s.work()).toThrow(new RegExp(`${name}: symlink leads outside the repository`));
    }
  });

  it("a symlinked parent inside the repository cannot climb out: `..` after it is read as kustomize reads it", async () => {
    const s = setup(() => k("resources:\n  - cm.yaml\n  - deep/up/../secret.yaml\n"));
    mkdirSync(join(s.repo, "apps/deep"));
    symlinkSync("../..", join(s.repo, "apps/deep/up")); // up → the repository root (inside)
    const err = await buildError(s.work());
    expect(err.message).not.toContain(CANARY);
  });

  it("a kustomization that includes a directory through an absolute symlink into the original checkout is refused", async () => {
    const s = setup(() => k("resources:\n  - shared\n"));
    writeFileSync(join(s.repo, "shared/kustomization.yaml"), "resources: [cm.yaml]\n");
    symlinkSync(join(s.repo, "shared"), join(s.repo, "apps/shared")); // inside the checkout, outside the copy
    const err = await buildError(s.work());
    expect(err.message).toMatch(
      /apps\/kustomization\.yaml: resources\[0\]: "shared" leads outside the tree through a symlink/,
    );
  });

  it("a generator configuration from a URL is refused even with remote resources allowed (it could name any file)", async () => {
    const s = setup(() => k("resources: [cm.yaml]\ngenerators:\n  - https://example.com/gen.yaml\n"));
    const work = s.work();
    try {
      const err = await runKustomize(join(work.dir, "apps"), { allowRemoteResources: true }).catch(
        (e: Error) => e,
      );
      expect((err as Error).message).toMatch(
        /apps\/kustomization\.yaml: generators\[0\]: "https:\/\/example\.com\/gen\.yaml": a plugin configuration from a URL/,
      );
    } finally {
      work.cleanup();
    }
  });

  it("gitops-bot build names the file, the Flux object and the field of a refused reference", async () => {
    const s = setup((r) => ({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
      ...k(`resources:\n  - cm.yaml\nconfigMapGenerator:\n  - name: x\n    files:\n      - ${r.txt}\n`),
    }));
    let out = "";
    let errText = "";
    const code = await main(["build", "clusters/dev", "--repo", s.repo], {
      out: { write: (t: string) => (out += t) },
      err: { write: (t: string) => (errText += t) },
    });
    expect(code).not.toBe(0);
    expect(out + errText).not.toContain(CANARY);
    expect(errText).toContain("Kustomization/flux-system/apps");
    expect(errText).toContain("apps/kustomization.yaml");
    expect(errText).toContain("configMapGenerator[0].files[0]");
    expect(errText).toContain("leads outside the tree");
  });
});
