// No path a kustomization names may leave the repository, whichever field names it and however it is spelled
// (Go's case-insensitive field matching, YAML merge keys); kustomize's own load restrictor stays on as a second
// wall. A canary file beside the repository is never read into the output.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { prepareWorkTree, runKustomize } from "../../src/build/kustomize.js";
import { writeTree } from "../support/repo-tree.js";

const CANARY = `load-restrictor-canary-${Date.now()}`;

function setup(kustomization: (outside: string) => string) {
  const base = mkdtempSync(join(tmpdir(), "lr-"));
  const outsideFile = join(base, "secret.txt");
  writeFileSync(outsideFile, `${CANARY}\n`);
  const repo = join(base, "repo");
  const apps = join(repo, "apps");
  writeTree(repo, {
    "apps/kustomization.yaml": kustomization(relative(apps, outsideFile)),
    "apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    "shared/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n",
  });
  return prepareWorkTree(repo);
}

describe("no load restrictor, but never outside the repository", () => {
  it("a file elsewhere in the repository is refused by kustomize's load restrictor, with a sentence saying what to do", async () => {
    const work = setup(() => "resources:\n  - cm.yaml\n  - ../shared/cm.yaml\n");
    try {
      const err = await runKustomize(join(work.dir, "apps")).catch((e: Error) => e);
      expect((err as Error).message).toContain("which is outside apps");
    } finally {
      work.cleanup();
    }
  });

  it.each([
    ["resources", (p: string) => `resources:\n  - ${p}\n`],
    [
      "configMapGenerator files",
      (p: string) => `configMapGenerator:\n  - name: x\n    files:\n      - ${p}\n`,
    ],
    [
      "configMapGenerator key=file",
      (p: string) => `configMapGenerator:\n  - name: x\n    files:\n      - k=${p}\n`,
    ],
    ["secretGenerator envs", (p: string) => `secretGenerator:\n  - name: x\n    envs:\n      - ${p}\n`],
    ["an absolute path", () => "configMapGenerator:\n  - name: x\n    files:\n      - /etc/hostname\n"],
    ["openapi", (p: string) => `resources:\n  - cm.yaml\nopenapi:\n  path: ${p}\n`],
    ["patches", (p: string) => `resources:\n  - cm.yaml\npatches:\n  - path: ${p}\n`],
    ["Resources, capitalised", (p: string) => `Resources:\n  - ${p}\n`],
    [
      "ConfigMapGenerator with Files",
      (p: string) => `ConfigMapGenerator:\n  - name: x\n    Files:\n      - ${p}\n`,
    ],
    ["a long s (ſ) for s", (p: string) => `reſources:\n  - ${p}\n`],
    [
      "the Kelvin sign for k",
      (p: string) =>
        `resources:\n  - cm.yaml\nconfigMapGenerator:\n  - name: x\n    files: []\n    \u212Aey: 1\npatches:\n  - path: cm.yaml\n  - Path: ${p}\n`,
    ],
    ["a merge key", (p: string) => `<<: {resources: [${p}]}\n`],
    ["a nested merge key", (p: string) => `configMapGenerator:\n  - name: x\n    <<: {files: [${p}]}\n`],
  ])("%s naming a file outside the repository is refused", async (_field, kustomization) => {
    const work = setup(kustomization);
    try {
      const err = await runKustomize(join(work.dir, "apps")).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect(String((err as Error).message)).not.toContain(CANARY);
      expect((err as Error).message).toMatch(/apps\/kustomization\.yaml/);
    } finally {
      work.cleanup();
    }
  });
});
