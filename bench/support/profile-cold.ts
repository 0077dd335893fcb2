// `node dist-bench/bench/support/profile-cold.js [profileDir]`: the Flux suite's cold tree (100 Kustomizations × 4
// objects) reconciled once by the bot, with a V8 CPU profile of the engine process, beside kubectl's cold apply.
// A quick loop for working on the cold path without starting kustomize-controller.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { defaultPlanOptions } from "../../src/reconcile/plan.js";
import { buildTree } from "../../src/reconcile/run.js";
import { benchCluster, stopBenchCluster } from "./cluster.js";
import { kustomizations, writeApps, writeClusterPath } from "./flux-tree.js";
import { botRun, kubectl } from "./timed.js";

const profDir = process.argv[2];
const work = mkdtempSync(join(tmpdir(), "gitops-bot-profile-cold-"));
try {
  const plane = await benchCluster();
  await plane.workloadsReady;
  const kc = plane.kubeconfigPath;
  const suffix = Date.now().toString(36);
  const tree = join(work, "tree");
  writeApps(tree);
  const botNs = `pc-${suffix}-bot`;
  const kubectlNs = `pc-${suffix}-kubectl`;
  const botPath = writeClusterPath(tree, "bot", kustomizations(botNs, false));
  const kubectlPath = writeClusterPath(tree, "kubectl", kustomizations(kubectlNs, false));
  for (const ns of [botNs, kubectlNs]) await kubectl(kc, ["create", "namespace", ns]);
  if (profDir) process.env.BENCH_CPU_PROF = profDir;
  const bot = await botRun(tree, botPath, kc, { health: false });
  delete process.env.BENCH_CPU_PROF;
  const plan = await buildTree({ repoDir: tree, ...defaultPlanOptions(kubectlPath) });
  const file = join(work, "kubectl.yaml");
  writeFileSync(
    file,
    plan.kustomizations
      .flatMap((k) => k.objects)
      .map((o) => stringify(o))
      .join("---\n"),
  );
  const k = await kubectl(kc, ["apply", "--server-side", "--field-manager=kubectl-bench", "-f", file]);
  console.log(JSON.stringify({ bot, kubectlMs: k.ms, ratio: bot.ms / k.ms }, null, 2));
} finally {
  await stopBenchCluster();
  rmSync(work, { recursive: true, force: true });
}
