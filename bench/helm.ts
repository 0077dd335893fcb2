// Benchmark: 50 HelmReleases of a small chart (a ConfigMap), reconciled by the engine — a cold install and a
// no-op run — beside `helm upgrade --install` run directly for 50 other releases with the same parallelism,
// in the same run, against the same API server and Helm repository.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadKubeConfig, makeObjectApi } from "../src/cluster/kube-client.js";
import { mapLimit } from "../src/reconcile/concurrency.js";
import { defaultReconcileOptions, reconcileTree } from "../src/reconcile/run.js";
import { helm, helmReleaseYaml, helmRepositoryYaml, startHelmRepo } from "../test/support/helm-repo.js";
import { makeRepo } from "../test/support/repo-tree.js";
import { benchCluster } from "./support/cluster.js";
import { ms, printTable } from "./support/table.js";

const releases = 50;

export async function run(): Promise<void> {
  const plane = await benchCluster();
  const kc = loadKubeConfig({ kubeconfig: plane.kubeconfigPath });
  const api = makeObjectApi(kc);
  const charts = await startHelmRepo();
  try {
    await charts.addChart({ name: "demo", version: "0.1.0" });
    const suffix = Date.now().toString(36);
    const ns = `bench-helm-${suffix}`;
    const direct = `bench-helm-direct-${suffix}`;
    for (const name of [ns, direct])
      await api.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    const files: Record<string, string> = {
      "clusters/bench/charts.yaml": helmRepositoryYaml("charts", ns, charts.url),
    };
    for (let i = 0; i < releases; i++) {
      files[`clusters/bench/hr-${i}.yaml`] = helmReleaseYaml({
        name: `app-${i}`,
        namespace: ns,
        version: "0.1.x",
        extra: `  values:\n    color: c${i}\n`,
      });
    }
    const repo = makeRepo(files);
    const options = {
      ...defaultReconcileOptions(repo, "clusters/bench"),
      scope: `bench-helm-${suffix}`,
      cacheDir: mkdtempSync(join(tmpdir(), "gitops-bot-bench-cache-")),
      kubeConfig: kc,
    };
    const concurrency = options.concurrency;

    const timed = async <T>(fn: () => Promise<T>): Promise<[number, T]> => {
      const started = performance.now();
      const value = await fn();
      return [performance.now() - started, value];
    };
    const chart = join(charts.dir, "demo-0.1.0.tgz");
    const upgradeInstall = (i: number) =>
      helm(
        [
          "upgrade",
          "--install",
          `app-${i}`,
          chart,
          "-n",
          direct,
          "--set",
          `color=c${i}`,
          "--wait=watcher",
          "--timeout",
          "60s",
        ],
        plane.kubeconfigPath,
      );
    const indexes = Array.from({ length: releases }, (_, i) => i);
    // Alternate the two sides so neither gets a warmer API server.
    const [helmColdMs] = await timed(() => mapLimit(indexes, concurrency, upgradeInstall));
    const [coldMs, cold] = await timed(() => reconcileTree(api, options));
    const failed = (cold.helmReleases ?? []).filter((h) => h.status !== "Ready");
    if (failed.length > 0) throw new Error(`cold run: ${failed.length} failed, e.g. ${failed[0]?.message}`);
    const [noopMs, noop] = await timed(() => reconcileTree(api, options));
    const changed = (noop.helmReleases ?? []).filter((h) => h.action !== "unchanged");
    if (changed.length > 0) throw new Error(`no-op run changed ${changed.length} releases`);

    const [helmAgainMs] = await timed(() => mapLimit(indexes, concurrency, upgradeInstall));

    printTable(
      `Helm: ${releases} HelmReleases of a one-ConfigMap chart, ${concurrency} at a time (HTTP Helm repository, kube-apiserver from the harness)`,
      ["scenario", "gitops-bot reconcile", `helm upgrade --install ×${releases}`, "per release (bot)"],
      [
        ["cold install", ms(coldMs), ms(helmColdMs), ms(coldMs / releases)],
        ["nothing changed", ms(noopMs), ms(helmAgainMs), ms(noopMs / releases)],
      ],
    );
    console.log(
      "\nThe bot's no-op run reads release labels through the API and runs no helm at all; helm upgrade --install\n" +
        "has no no-op mode and writes a new revision for every release.",
    );
    await mapLimit(indexes, concurrency, (i) =>
      helm(["uninstall", `app-${i}`, "-n", direct], plane.kubeconfigPath),
    );
  } finally {
    await charts.stop();
  }
}
