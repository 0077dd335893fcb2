// Attacks on ArtifactGenerator through its entry points: `gitops-bot build` (the spec is parsed when the tree
// is planned) and the SourceResolver that assembles an ExternalArtifact (globs, paths and symlinks of the
// repository). Each ends in a clear error naming the file, object and field, and nothing outside the
// repository is read into an artifact or written.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { main } from "../../src/cli/main.js";
import { generatedArtifacts, parseArtifactGenerator } from "../../src/flux/artifact-generator.js";
import { parseSource } from "../../src/flux/sources.js";
import { noSecrets } from "../../src/source/credentials.js";
import { assembleArtifact } from "../../src/source/kinds/artifact-generator/assemble.js";
import { SourceResolver } from "../../src/source/resolver.js";
import { generatorYaml } from "../source/artifact-generator-fixture.js";
import { makeRepo } from "../support/repo-tree.js";

const CANARY = "canary-7f3e9a-not-for-artifacts";

function canaryDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-canary-"));
  writeFileSync(join(dir, "secret.yaml"), `kind: Secret\ndata: ${CANARY}\n`);
  return dir;
}

async function build(repo: string) {
  let out = "";
  let err = "";
  const code = await main(["build", "clusters/staging", "--repo", repo], {
    out: { write: (s: string) => (out += s) },
    err: { write: (s: string) => (err += s) },
  });
  return { code, out, err };
}

const copy = (from: string, to: string, extra = "") =>
  `    - name: apps\n      copy:\n        - from: "${from}"\n          to: "${to}"\n${extra}`;

function resolverFor(repo: string, cacheDir = mkdtempSync(join(tmpdir(), "gitops-bot-ag-cache-"))) {
  const resolver = new SourceResolver({
    selfSourceNames: ["flux-system"],
    selfDir: repo,
    cacheDir,
    secrets: noSecrets,
  });
  const file = "clusters/staging/generator.yaml";
  resolver.declare(parseSource(parse(readFileSync(join(repo, file), "utf8")), file));
  return { resolver, cacheDir };
}

async function generate(repo: string, name = "apps") {
  const { resolver, cacheDir } = resolverFor(repo);
  const source = resolver.find({ kind: "ExternalArtifact", name }, "flux-system");
  if (!source) throw new Error("not declared");
  return { result: resolver.artifact(source), cacheDir };
}

function allText(dir: string): string {
  let text = "";
  const visit = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.isFile()) text += readFileSync(p, "utf8");
    }
  };
  visit(dir);
  return text;
}

describe("ArtifactGenerator attacks", () => {
  it.each([
    ["@repo/../../etc/**", "@artifact/", "copy.0.from", 'must not have "." or ".." segments'],
    ["@repo//etc/passwd", "@artifact/", "copy.0.from", "must be relative"],
    ["@repo/apps/**", "../x", "copy.0.to", 'must start with "@artifact/"'],
    ["@repo/apps/**", "@artifact/../x", "copy.0.to", 'must not have "." or ".." segments'],
    ["@repo/apps\\\\..\\\\..\\\\etc/**", "@artifact/", "copy.0.from", "backslash"],
    ["@other/apps/**", "@artifact/", "copy.0.from", "@other is not one of the sources' aliases"],
  ])("build refuses from %s to %s, naming the field", async (from, to, field, reason) => {
    const repo = makeRepo({
      "clusters/staging/generator.yaml": generatorYaml({ artifacts: copy(from, to) }),
    });
    const { code, err, out } = await build(repo);
    expect(code).toBe(2);
    expect(err).toContain("clusters/staging/generator.yaml");
    expect(err).toContain("ArtifactGenerator/flux-system/fleet");
    // zod writes array indexes as `.0`, the checks after it as `[0]`: either names the field.
    expect(err.replace(/\[(\d+)\]/g, ".$1")).toContain(`spec.artifacts.0.${field}`);
    expect(err).toContain(reason);
    expect(out).toBe("");
  });

  it("build refuses an exclude with '..' and a Bucket or cross-kind source", async () => {
    const excluding = makeRepo({
      "clusters/staging/generator.yaml": generatorYaml({
        artifacts: copy("@repo/apps/**", "@artifact/", '          exclude: ["../../**"]\n'),
      }),
    });
    const ex = await build(excluding);
    expect(ex.code).toBe(2);
    expect(ex.err).toContain("spec.artifacts.0.copy.0.exclude.0");
    const bucket = makeRepo({
      "clusters/staging/generator.yaml": generatorYaml({
        sources: "    - alias: repo\n      kind: Bucket\n      name: configs",
        artifacts: copy("@repo/apps/**", "@artifact/"),
      }),
    });
    const b = await build(bucket);
    expect(b.code).toBe(2);
    expect(b.err).toContain("spec.sources[0].kind: Bucket sources are not supported");
  });

  it("refuses a symlink in the source that points outside, and copies nothing of it", async () => {
    const outside = canaryDir();
    const repo = makeRepo({
      "clusters/staging/generator.yaml": generatorYaml({ artifacts: copy("@repo/apps/**", "@artifact/") }),
      "apps/ok.yaml": "kind: ConfigMap\n",
    });
    symlinkSync(join(outside, "secret.yaml"), join(repo, "apps/leak.yaml"));
    const { result, cacheDir } = await generate(repo);
    await expect(result).rejects.toThrow(
      /ArtifactGenerator\/flux-system\/fleet spec\.artifacts\[0\]\.copy\[0\]\.from: "apps\/leak\.yaml" leads outside its source through a symlink; refused/,
    );
    expect(allText(cacheDir)).not.toContain(CANARY);
  });

  it("refuses a glob base that is a symlink out of the repository (apps -> /outside)", async () => {
    const outside = canaryDir();
    const repo = makeRepo({
      "clusters/staging/generator.yaml": generatorYaml({ artifacts: copy("@repo/apps/**", "@artifact/") }),
    });
    symlinkSync(outside, join(repo, "apps"));
    const { result, cacheDir } = await generate(repo);
    await expect(result).rejects.toThrow(/"apps" leads outside its source through a symlink; refused/);
    expect(allText(cacheDir)).not.toContain(CANARY);
  });

  it("follows a symlink to a file inside the repository, but never a directory link (no loops)", async () => {
    const repo = makeRepo({
      "clusters/staging/generator.yaml": generatorYaml({ artifacts: copy("@repo/apps/**", "@artifact/") }),
      "apps/real.yaml": "kind: ConfigMap\n",
      "shared/common.yaml": "kind: Namespace\n",
    });
    symlinkSync("../shared/common.yaml", join(repo, "apps/common.yaml"));
    symlinkSync("..", join(repo, "apps/loop"));
    const { result } = await generate(repo);
    const artifact = await result;
    expect(readdirSync(artifact.dir).sort()).toEqual(["common.yaml", "real.yaml"]);
  });

  it("refuses a copy that needs a file where a directory is, and a glob with too many **", async () => {
    const repo = makeRepo({
      "clusters/staging/generator.yaml": generatorYaml({
        artifacts:
          `    - name: apps\n      copy:\n        - from: "@repo/apps/**"\n          to: "@artifact/x/"\n` +
          `        - from: "@repo/one.yaml"\n          to: "@artifact/x"\n`,
      }),
      "apps/a.yaml": "a: 1\n",
      "one.yaml": "b: 2\n",
    });
    await expect((await generate(repo)).result).rejects.toThrow(
      /copy\[1\]\.to: "x" is a directory in the artifact/,
    );
    const stars = makeRepo({
      "clusters/staging/generator.yaml": generatorYaml({
        artifacts: copy(`@repo/${Array.from({ length: 12 }, (_, i) => `**/d${i}`).join("/")}`, "@artifact/"),
      }),
      "apps/a.yaml": "a: 1\n",
    });
    await expect((await generate(stars)).result).rejects.toThrow(/more than 8 "\*\*" segments/);
  });

  it("stops at the file-count and byte bounds", () => {
    const repo = mkdtempSync(join(tmpdir(), "gitops-bot-many-"));
    mkdirSync(join(repo, "apps"));
    for (let i = 0; i < 30; i++) writeFileSync(join(repo, "apps", `f${i}.yaml`), "x".repeat(100));
    const generator = parseArtifactGenerator(
      parse(generatorYaml({ artifacts: copy("@repo/apps/*.yaml", "@artifact/") })),
      "g.yaml",
    );
    const [artifact] = generatedArtifacts(generator);
    if (!artifact) throw new Error("no artifact");
    const roots = new Map([["repo", { dir: repo, revision: "" }]]);
    const out = () => join(mkdtempSync(join(tmpdir(), "gitops-bot-out-")), "a");
    expect(() => assembleArtifact(artifact, roots, out(), { maxFiles: 10, maxBytes: 1e9 })).toThrow(
      /more than 10 files; stopped/,
    );
    expect(() => assembleArtifact(artifact, roots, out(), { maxFiles: 1000, maxBytes: 1000 })).toThrow(
      /larger than 1000 bytes; stopped/,
    );
  });

  it("refuses a source in another namespace (another tenant's credentials)", async () => {
    const repo = makeRepo({
      "clusters/staging/generator.yaml": generatorYaml({
        sources: "    - alias: repo\n      kind: GitRepository\n      name: other\n      namespace: tenant-b",
        artifacts: copy("@repo/apps/**", "@artifact/"),
      }),
    });
    await expect((await generate(repo)).result).rejects.toThrow(
      /spec\.sources\[0\]\.namespace: tenant-b is not the generator's namespace; cross-namespace sources are refused/,
    );
  });
});
