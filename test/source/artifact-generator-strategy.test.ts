// ArtifactGenerator copy strategies (source-watcher v1beta1): Overwrite (default), Merge (YAML values merged as
// Helm merges --values files, lists replaced) and Extract (.tar.gz/.tgz unpacked into the destination). Tarballs
// come from repositories: hostile members (absolute, `..`, links out) and oversized archives are refused.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { parse } from "yaml";
import { parseSource } from "../../src/flux/sources.js";
import { noSecrets } from "../../src/source/credentials.js";
import { SourceResolver } from "../../src/source/resolver.js";
import { pushFluxArtifact } from "../support/helm-repo.js";
import { uniqueName } from "../support/kube.js";
import { makeRepo } from "../support/repo-tree.js";
import { generatorYaml } from "./artifact-generator-fixture.js";
import { type FixtureMember, tarGzOf } from "./tar-fixture.js";

const CANARY = `ag-strategy-canary-${Date.now()}`;

async function generate(files: Record<string, string>, tarballs: Record<string, Buffer> = {}) {
  const repo = makeRepo(files);
  for (const [path, bytes] of Object.entries(tarballs)) writeFileSync(join(repo, path), bytes);
  const resolver = new SourceResolver({
    selfSourceNames: ["flux-system"],
    selfDir: repo,
    cacheDir: mkdtempSync(join(tmpdir(), "gitops-bot-ag-strategy-")),
    secrets: noSecrets,
  });
  for (const file of Object.keys(files).filter((f) => f.startsWith("clusters/staging/"))) {
    resolver.declare(parseSource(parse(readFileSync(join(repo, file), "utf8")), file));
  }
  const source = resolver.find({ kind: "ExternalArtifact", name: "out" }, "flux-system");
  if (!source) throw new Error("not declared");
  return resolver.artifact(source);
}

const artifact = (copies: string) => generatorYaml({ artifacts: `    - name: out\n      copy:\n${copies}` });
const copy = (from: string, to: string, strategy?: string) =>
  `        - from: "${from}"\n          to: "${to}"\n${strategy ? `          strategy: ${strategy}\n` : ""}`;

describe("ArtifactGenerator copy strategies", () => {
  it("Merge merges a YAML values file into the chart's, maps key by key and lists replaced", async () => {
    const a = await generate({
      "clusters/staging/generator.yaml": artifact(
        copy("@repo/chart/", "@artifact/") +
          copy("@repo/values-prod.yaml", "@artifact/chart/values.yaml", "Merge"),
      ),
      "chart/values.yaml": "replicas: 1\nimage:\n  repository: podinfo\n  tag: 6.0.0\nports: [80, 443]\n",
      "values-prod.yaml": "image:\n  tag: 6.7.0\nports: [8080]\nextra: true\n",
    });
    expect(parse(readFileSync(join(a.dir, "chart/values.yaml"), "utf8"))).toEqual({
      replicas: 1,
      image: { repository: "podinfo", tag: "6.7.0" },
      ports: [8080],
      extra: true,
    });
  });

  it("Merge into a file that is not there yet copies it; Overwrite (the default) replaces", async () => {
    const a = await generate({
      "clusters/staging/generator.yaml": artifact(
        copy("@repo/a.yaml", "@artifact/new.yaml", "Merge") +
          copy("@repo/a.yaml", "@artifact/b.yaml") +
          copy("@repo/c.yaml", "@artifact/b.yaml", "Overwrite"),
      ),
      "a.yaml": "a: 1\n",
      "c.yaml": "c: 1\n",
    });
    expect(readFileSync(join(a.dir, "new.yaml"), "utf8")).toBe("a: 1\n");
    expect(readFileSync(join(a.dir, "b.yaml"), "utf8")).toBe("c: 1\n");
  });

  it.each([
    ["a list", "- 1\n", /is not a YAML mapping/],
    ["a __proto__ key", "__proto__:\n  polluted: true\n", /"__proto__" is not allowed/],
    [
      "an alias bomb",
      `a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n`,
      /not valid YAML/,
    ],
  ])("Merge refuses %s, naming the copy", async (_what, text, reason) => {
    const result = generate({
      "clusters/staging/generator.yaml": artifact(
        copy("@repo/base.yaml", "@artifact/v.yaml") + copy("@repo/over.yaml", "@artifact/v.yaml", "Merge"),
      ),
      "base.yaml": "a: 1\n",
      "over.yaml": text,
    });
    await expect(result).rejects.toThrow(/spec\.artifacts\[0\]\.copy\[1\] \(strategy Merge/);
    await expect(result).rejects.toThrow(reason);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("Extract unpacks a chart tarball (helm package) into the destination, keeping its layout", async () => {
    const tgz = tarGzOf([
      { type: "directory", path: "podinfo/" },
      { path: "podinfo/Chart.yaml", content: "apiVersion: v2\nname: podinfo\nversion: 6.7.0\n" },
      { path: "podinfo/templates/cm.yaml", content: "kind: ConfigMap\n" },
    ]);
    const a = await generate(
      {
        "clusters/staging/generator.yaml": artifact(
          copy("@repo/podinfo-6.7.0.tgz", "@artifact/", "Extract") +
            copy("@repo/charts/*.tgz", "@artifact/more/", "Extract"),
        ),
        "charts/README.md": "not a tarball: skipped by a glob\n",
      },
      { "podinfo-6.7.0.tgz": tgz, "charts/other.tgz": tgz },
    );
    expect(readFileSync(join(a.dir, "podinfo/Chart.yaml"), "utf8")).toContain("name: podinfo");
    expect(existsSync(join(a.dir, "podinfo/templates/cm.yaml"))).toBe(true);
    expect(existsSync(join(a.dir, "more/podinfo/Chart.yaml"))).toBe(true);
    expect(existsSync(join(a.dir, "more/README.md"))).toBe(false);
    expect(existsSync(join(a.dir, "podinfo-6.7.0.tgz"))).toBe(false);
  });

  it("Extract of a single file that is not a tarball, or of a directory, is refused naming the copy", async () => {
    await expect(
      generate({
        "clusters/staging/generator.yaml": artifact(copy("@repo/a.yaml", "@artifact/", "Extract")),
        "a.yaml": "a: 1\n",
      }),
    ).rejects.toThrow(/copy\[0\]\.from: "a.yaml" is not a .tar.gz or .tgz file/);
    await expect(
      generate({
        "clusters/staging/generator.yaml": artifact(copy("@repo/charts", "@artifact/", "Extract")),
        "charts/a.yaml": "a: 1\n",
      }),
    ).rejects.toThrow(/copy\[0\]\.from: "charts" is a directory; strategy Extract takes tarballs/);
  });

  const hostile: [string, FixtureMember[], RegExp][] = [
    ["a member climbing out with ..", [{ path: "../../escape.yaml", content: CANARY }], /\.\./],
    ["an absolute member", [{ path: "/tmp/escape.yaml", content: CANARY }], /absolute/],
    [
      "a symlink out, then a file through it",
      [
        { type: "symlink", path: "link", target: "/tmp" },
        { path: "link/escape.yaml", content: CANARY },
      ],
      /symlink|link/,
    ],
    [
      "a hard link to a file outside",
      [{ type: "hardlink", path: "h", target: "/etc/hostname" }],
      /absolute|link/,
    ],
  ];
  it.each(hostile)(
    "Extract refuses a tarball with %s, naming the copy and the file",
    async (_what, members, reason) => {
      const result = generate(
        { "clusters/staging/generator.yaml": artifact(copy("@repo/evil.tgz", "@artifact/", "Extract")) },
        { "evil.tgz": tarGzOf(members) },
      );
      await expect(result).rejects.toThrow(/copy\[0\]\.from: .*evil\.tgz/);
      await expect(result).rejects.toThrow(reason);
      expect(
        existsSync("/tmp/escape.yaml") && readFileSync("/tmp/escape.yaml", "utf8").includes(CANARY),
      ).toBe(false);
    },
  );

  it("Extract stops a tarball that unpacks past the artifact's bounds (a gzip bomb)", async () => {
    const bomb = tarGzOf([{ path: "big.bin", content: Buffer.alloc(600 * 1024 * 1024) }]);
    const result = generate(
      { "clusters/staging/generator.yaml": artifact(copy("@repo/bomb.tgz", "@artifact/", "Extract")) },
      { "bomb.tgz": bomb },
    );
    await expect(result).rejects.toThrow(/copy\[0\]\.from: .*bomb\.tgz.*(bytes|limit|larger)/);
  }, 60_000);
});

describe("ArtifactGenerator originRevision", () => {
  it("carries the alias's revision (an OCIRepository's tag@digest) while the artifact keeps its own", async () => {
    const host = inject("registryHost");
    const repository = uniqueName("origin");
    const digest = await pushFluxArtifact(host, repository, "1.2.3", {
      "deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: o\n",
    });
    const a = await generate({
      "clusters/staging/generator.yaml": generatorYaml({
        sources:
          "    - alias: repo\n      kind: GitRepository\n      name: flux-system\n    - alias: app\n      kind: OCIRepository\n      name: app",
        artifacts: `    - name: out\n      originRevision: "@app"\n      copy:\n${copy("@app/deploy/**", "@artifact/")}`,
      }),
      "clusters/staging/app.yaml": `apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: app\n  namespace: flux-system\nspec:\n  interval: 5m\n  url: oci://${host}/${repository}\n  insecure: true\n  ref:\n    tag: "1.2.3"\n`,
    });
    expect(a.revision).toMatch(/^latest@sha256:[0-9a-f]{64}$/);
    expect(a.originRevision).toBe(`1.2.3@${digest}`);
    expect(existsSync(join(a.dir, "cm.yaml"))).toBe(true);
  });
});
