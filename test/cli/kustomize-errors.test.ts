// kustomize's messages in the repository's terms: no temporary work-tree or overlay paths, and a plain sentence
// with the next step for a file outside the kustomization's directory or a file that does not exist.
import { describe, expect, test } from "vitest";
import { explainKustomizeMessage, repositoryPaths } from "../../src/build/kustomize-errors.js";

const work = "/tmp/gitops-bot-build-Ab12Cd";

describe("kustomize errors", () => {
  test.each([
    [`file '${work}/apps/cm.yaml' missing`, "file 'apps/cm.yaml' missing"],
    [`not in or below '${work}'`, "not in or below '.'"],
    ["from '../gitops-bot-build-Xy9/apps': boom", "from 'apps': boom"],
    ["from '../../tmp/gitops-bot-build-Xy9': boom", "from '.': boom"],
    ["in /tmp/gitops-bot-overlay-Q1w2/kustomization.yaml", "in (the overlay for spec.path)"],
    ["nothing to rewrite in apps/cm.yaml", "nothing to rewrite in apps/cm.yaml"],
  ])("%s → %s", (raw, shown) => {
    expect(repositoryPaths(raw, work)).toBe(shown);
  });

  test("a file outside the kustomization's directory says where it is and how to include it", () => {
    const raw = `accumulating resources: accumulation err='accumulating resources from '../shared/cm.yaml': security; file '${work}/shared/cm.yaml' is not in or below '${work}/apps'': must build at directory: '${work}/shared/cm.yaml': file is not directory`;
    expect(explainKustomizeMessage(repositoryPaths(raw, work))).toBe(
      `the kustomization in apps lists "../shared/cm.yaml" (shared/cm.yaml), which is outside apps: kustomize loads files only from the kustomization's own directory and below. Move the file under apps, or give shared a kustomization.yaml and list that directory in resources instead`,
    );
  });

  test("an unknown message is kept as kustomize wrote it", () => {
    expect(explainKustomizeMessage('invalid Kustomization: json: unknown field "resourcez"')).toBe(
      'invalid Kustomization: json: unknown field "resourcez"',
    );
  });
});
