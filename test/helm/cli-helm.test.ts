// `gitops-bot diff` and `reconcile` cover HelmReleases: the rendered-manifest diff in the terminal, exit codes.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { cli } from "../support/cli.js";
import {
  type HelmRepoServer,
  helmReleaseYaml,
  helmRepositoryYaml,
  startHelmRepo,
} from "../support/helm-repo.js";
import { createNamespace, testObjectApi, uniqueName } from "../support/kube.js";
import { makeRepo, writeTree } from "../support/repo-tree.js";

let charts: HelmRepoServer;
beforeAll(async () => {
  charts = await startHelmRepo();
  await charts.addChart({ name: "demo", version: "0.1.0" });
});
afterAll(() => charts?.stop());

describe("CLI with HelmReleases", () => {
  it("diff shows the rendered-manifest change of a HelmRelease and exits 1; 0 once reconciled", async () => {
    const ns = await createNamespace(testObjectApi(), "clihelm");
    const hr = (color: string) =>
      helmReleaseYaml({ name: "app", namespace: ns, extra: `  values:\n    color: ${color}\n` });
    const repo = makeRepo({
      "clusters/dev/charts.yaml": helmRepositoryYaml("charts", ns, charts.url),
      "clusters/dev/app.yaml": hr("blue"),
    });
    process.env.GITOPS_BOT_CACHE_DIR = mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-"));
    const common = [
      "--repo",
      repo,
      "--kubeconfig",
      inject("kubeconfigPath"),
      "--scope",
      uniqueName("scope"),
      "-q",
    ];

    const first = await cli(["diff", "clusters/dev", ...common]);
    expect(first.code).toBe(1);
    expect(first.out).toContain(
      `► HelmRelease ${ns}/app (demo@0.1.0): Ready — would install demo@0.1.0 as ${ns}/app`,
    );
    expect(first.out).toContain(`+ created    ConfigMap/${ns}/app-config`);

    const applied = await cli(["reconcile", "clusters/dev", ...common]);
    expect(applied.code).toBe(0);
    expect(applied.out).toContain(
      `► HelmRelease ${ns}/app (demo@0.1.0): Ready — installed demo@0.1.0 as ${ns}/app`,
    );
    expect((await cli(["diff", "clusters/dev", ...common])).code).toBe(0);

    writeTree(repo, { "clusters/dev/app.yaml": hr("green") });
    const changed = await cli(["diff", "clusters/dev", ...common]);
    expect(changed.code).toBe(1);
    expect(changed.out).toContain(`~ configured ConfigMap/${ns}/app-config`);
    expect(changed.out).toContain("-  color: blue");
    expect(changed.out).toContain("+  color: green");
  }, 120_000);
});
