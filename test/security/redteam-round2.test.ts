// Red team, round 2: attacks on this round's new surfaces through the real entry points. Each test asserts the
// safe outcome; a failing test here is a real vulnerability (see the round's report).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io = {
    out: { write: (s: string) => (out += s) },
    err: { write: (s: string) => (err += s) },
  };
  const code = await main(args, io);
  return { code, out, err };
}

// 4. kustomize runs without its load restrictor; the reference checker must see every path kustomize will load.
describe("kustomize field spellings the reference checker must also read", () => {
  const CANARY = `rt2-canary-${Date.now()}`;
  const outsideDir = mkdtempSync(join(tmpdir(), "rt2-outside-"));
  const outsideFile = join(outsideDir, "secret.txt");
  writeFileSync(outsideFile, `${CANARY}\n`);

  // kustomize decodes kustomization.yaml with Go's encoding/json after YAMLToJSON: field names match
  // case-insensitively, and go-yaml v2 applies YAML 1.1 merge keys (`<<`). The yaml package reads neither.
  it.each([
    [
      "Resources/ConfigMapGenerator (capitalised field names)",
      (rel: string) =>
        `Resources:\n  - cm.yaml\nConfigMapGenerator:\n  - name: x\n    files:\n      - ${rel}\n`,
    ],
    [
      "configMapGenerator[].Files (capitalised nested field)",
      (rel: string) =>
        `resources:\n  - cm.yaml\nconfigMapGenerator:\n  - name: x\n    Files:\n      - ${rel}\n`,
    ],
    [
      "RESOURCES naming a file outside",
      (rel: string) => `RESOURCES:\n  - cm.yaml\n  - ${rel.replace("secret.txt", "res.yaml")}\n`,
    ],
    [
      "a YAML merge key (<<) holding configMapGenerator",
      (rel: string) => `resources:\n  - cm.yaml\n<<: {configMapGenerator: [{name: x, files: [${rel}]}]}\n`,
    ],
    [
      "a merge key through an anchor",
      (rel: string) =>
        `resources:\n  - cm.yaml\nnamePrefix: &p dev-\nconfigMapGenerator:\n  - name: x\n    <<: {files: [${rel}]}\n`,
    ],
    [
      "an absolute path under SecretGenerator.Envs",
      () => `resources:\n  - cm.yaml\nSecretGenerator:\n  - name: x\n    Envs:\n      - ${outsideFile}\n`,
    ],
  ])("%s: the canary outside the repository never appears", async (_name, kustomization) => {
    writeFileSync(
      join(outsideDir, "res.yaml"),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leaked\ndata:\n  v: ${CANARY}\n`,
    );
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const rel = relative(join(repo, "apps"), outsideFile);
    writeFileSync(join(repo, "apps/kustomization.yaml"), kustomization(rel));
    const { code, out, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(out + err).not.toContain(CANARY);
    expect(Buffer.from(`${CANARY}\n`).toString("base64").slice(0, 16)).not.toSatisfy((b: string) =>
      (out + err).includes(b),
    );
    expect(code).not.toBe(0);
  });

  it("a built-in plugin configuration with capitalised Files cannot read outside", async () => {
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const rel = relative(join(repo, "apps"), outsideFile);
    writeFileSync(
      join(repo, "apps/gen.yaml"),
      `apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: x\nFiles:\n  - ${rel}\n`,
    );
    writeFileSync(
      join(repo, "apps/kustomization.yaml"),
      "resources:\n  - cm.yaml\ngenerators:\n  - gen.yaml\n",
    );
    const { code, out, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(out + err).not.toContain(CANARY);
    expect(code).not.toBe(0);
  });
});
