// The scratch space a work tree's builds share (build-scratch.ts): kustomize's HOME and the overlay pool live
// beside the tree, never in it, are private to that tree, and are gone once the run is.
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireOverlay, removeScratch, toolHome } from "../../src/build/build-scratch.js";
import { buildTree, defaultReconcileOptions } from "../../src/reconcile/run.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

const kustomization = (resources: string[]) =>
  `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [${resources.join(", ")}]\n`;

describe("build scratch space", () => {
  let savedTmp: string | undefined;
  let savedCache: string | undefined;
  let tmp: string;
  beforeEach(() => {
    savedTmp = process.env.TMPDIR;
    savedCache = process.env.GITOPS_BOT_BUILD_CACHE;
    // Every build runs kustomize (a cache hit would make no scratch at all).
    process.env.GITOPS_BOT_BUILD_CACHE = "off";
    tmp = mkdtempSync(join(tmpdir(), "scratch-test-"));
    process.env.TMPDIR = tmp;
  });
  afterEach(() => {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    if (savedCache === undefined) delete process.env.GITOPS_BOT_BUILD_CACHE;
    else process.env.GITOPS_BOT_BUILD_CACHE = savedCache;
  });

  it("is one per work tree, outside it, and removed with it", () => {
    const a = mkdtempSync(join(tmp, "tree-a-"));
    const b = mkdtempSync(join(tmp, "tree-b-"));
    try {
      expect(toolHome(a)).toBe(toolHome(a));
      expect(toolHome(a)).not.toBe(toolHome(b));
      expect(toolHome(a).startsWith(a)).toBe(false);
      const first = acquireOverlay(a);
      const second = acquireOverlay(a);
      expect(second.dir).not.toBe(first.dir);
      first.release();
      // A released overlay is reused by the next build of the same tree, never by another tree's.
      expect(acquireOverlay(a).dir).toBe(first.dir);
      expect(acquireOverlay(b).dir.startsWith(toolHome(b).replace(/home$/, ""))).toBe(true);
    } finally {
      removeScratch(a);
      removeScratch(b);
    }
    expect(readdirSync(tmp).filter((n) => n.startsWith("gitops-bot-scratch-"))).toEqual([]);
  });

  it("a run of many Kustomizations leaves no scratch, overlay or home directory behind", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 12; i++) {
      files[`clusters/dev/app-${i}.yaml`] = fluxKustomization({
        name: `app-${i}`,
        namespace: "flux-system",
        path: `./apps/app-${i}`,
        extra: `  targetNamespace: team-${i}\n`,
      });
      files[`apps/app-${i}/kustomization.yaml`] = kustomization(["cm.yaml"]);
      files[`apps/app-${i}/cm.yaml`] = configMap(`cm-${i}`, { index: String(i) });
    }
    const repo = makeRepo(files);
    const plan = await buildTree(defaultReconcileOptions(repo, "clusters/dev"));
    expect(plan.kustomizations.map((k) => k.objects[0]?.metadata?.namespace).sort()).toEqual(
      Array.from({ length: 12 }, (_, i) => `team-${i}`).sort(),
    );
    const left = readdirSync(tmp).filter(
      (n) => n.startsWith("gitops-bot-") && !n.startsWith("gitops-bot-repo-"),
    );
    expect(left).toEqual([]);
  });
});
