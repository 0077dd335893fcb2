// Attacks with names and paths that would become filesystem paths (attack row 2): a Kustomization named
// `x/../../../../<dir>` made the bot write kustomization.yaml into <dir> and then delete it recursively, in the
// CLI's `build` and in a pull request's dry-run. Each is refused with an error naming file, object and field,
// and a canary directory outside every temp directory keeps its canary file.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildKustomization, prepareWorkTree } from "../../src/build/kustomize.js";
import type { FluxKustomization } from "../../src/flux/kustomization.js";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { cli } from "../support/cli.js";
import { createNamespace, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

/** A directory in the system temp directory with one file; the attacks aim at it. */
function canary() {
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-canary-"));
  writeFileSync(join(dir, "canary.txt"), "canary\n");
  return {
    dir,
    untouched: () =>
      readdirSync(dir).join(",") === "canary.txt" &&
      readFileSync(join(dir, "canary.txt"), "utf8") === "canary\n",
  };
}

/** A name that, joined below any temp directory, leads to `dir` (more `..` than any temp path is deep). */
const escapingName = (dir: string) => `x/${"../".repeat(12)}${dir.replace(/^\//, "")}`;

const nameRule =
  "lowercase letters, digits, '-' and '.', beginning and ending with a letter or digit; at most 63 characters, it becomes a label value";

describe("names that would be paths (attack row 2)", () => {
  it("CLI build: a Kustomization named x/../../<canary> is refused; the canary is untouched", async () => {
    const target = canary();
    const name = escapingName(target.dir);
    const repo = makeRepo({
      "clusters/dev/evil.yaml": fluxKustomization({
        name: JSON.stringify(name),
        namespace: "flux-system",
        path: "./apps",
      }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const { code, err, out } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err).toContain(
      `clusters/dev/evil.yaml: Kustomization/flux-system/${JSON.stringify(name)}: metadata.name: ${JSON.stringify(name)} is not a valid name (${nameRule})`,
    );
    expect(target.untouched()).toBe(true);
  });

  it("CLI build: a namespace or spec.path that climbs out is refused the same way", async () => {
    const target = canary();
    const climb = `${"../".repeat(12)}${target.dir.replace(/^\//, "")}`;
    const repo = makeRepo({
      "clusters/dev/ns.yaml": fluxKustomization({
        name: "a",
        namespace: JSON.stringify(climb),
        path: "./apps",
      }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const first = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(first.code).toBe(2);
    expect(first.err).toContain(`metadata.namespace: ${JSON.stringify(climb)} is not a valid namespace`);

    const repo2 = makeRepo({
      "clusters/dev/path.yaml": fluxKustomization({
        name: "a",
        namespace: "flux-system",
        path: JSON.stringify(climb),
      }),
    });
    const second = await cli(["build", join(repo2, "clusters/dev"), "--repo", repo2]);
    expect(second.code).toBe(2);
    expect(second.err).toContain(
      `clusters/dev/path.yaml: Kustomization/flux-system/a: spec.path: ${JSON.stringify(climb)} is not a valid path (leaves the root through '..')`,
    );
    expect(target.untouched()).toBe(true);
  });

  it("engine dry-run (as a pull request runs it): refused with the error in the run; the canary is untouched", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "names");
    const target = canary();
    const name = escapingName(target.dir);
    const repo = makeRepo({
      "clusters/dev/evil.yaml": fluxKustomization({
        name: JSON.stringify(name),
        namespace: ns,
        path: "./apps",
      }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const run = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
      dryRun: true,
      withDiff: true,
      untrusted: true,
    });
    expect(run.errors.join("\n")).toContain(
      `clusters/dev/evil.yaml: Kustomization/${ns}/${JSON.stringify(name)}: metadata.name: ${JSON.stringify(name)} is not a valid name`,
    );
    expect(run.kustomizations.filter((k) => k.status === "Ready")).toEqual([]);
    expect(target.untouched()).toBe(true);
  });

  it("a Kustomization that skipped parsing still cannot aim the build's overlay at a directory", async () => {
    // Defense in depth: the overlay directory is a fresh temp directory, never a name from the repository.
    const target = canary();
    const repo = makeRepo({ "apps/cm.yaml": configMap("settings", { color: "blue" }) });
    const work = prepareWorkTree(repo);
    const ks: FluxKustomization = {
      name: escapingName(target.dir),
      namespace: "flux-system",
      file: "clusters/dev/evil.yaml",
      spec: {
        interval: "10m",
        prune: true,
        path: "./apps",
        sourceRef: { kind: "GitRepository", name: "flux-system" },
      },
      intervalMs: 600_000,
      timeoutMs: 600_000,
    };
    try {
      const objects = await buildKustomization(work, ks);
      expect(objects.map((o) => o.metadata?.name)).toEqual(["settings"]);
    } finally {
      work.cleanup();
    }
    expect(target.untouched()).toBe(true);
  });
});
