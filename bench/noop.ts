// Issue 11's periodic no-op benchmark: 1,100 objects (1,000 ConfigMaps, 100 Deployments) already applied, reconciled
// again with nothing changed in Git, as the schedule does every spec.interval — beside `kubectl apply
// --server-side` of the same pre-rendered objects on the same API server in the same run (goal ≤ 0.25×).
// The scheduled run happens inside a running bot (warm process); the fresh-process figure is the CLI's.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { loadKubeConfig, makeObjectApi } from "../src/cluster/kube-client.js";
import { defaultPlanOptions } from "../src/reconcile/plan.js";
import { buildTree, defaultReconcileOptions, reconcileTree } from "../src/reconcile/run.js";
import { benchCluster } from "./support/cluster.js";
import { BENCH_CLUSTER_PATH, writeBenchRepo } from "./support/repo.js";
import { ms, percentile, printTable } from "./support/table.js";
import { botRun, kubectl } from "./support/timed.js";

const CONFIGMAPS = 1000;
const DEPLOYMENTS = 100;
const ROUNDS = 3;

function objects(ns: string): object[] {
  const out: object[] = [];
  for (let i = 0; i < CONFIGMAPS; i++)
    out.push({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `config-${i}`, namespace: ns },
      data: { index: String(i), payload: `value-${i}-`.repeat(20) },
    });
  for (let i = 0; i < DEPLOYMENTS; i++)
    out.push({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: `app-${i}`, namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: `app-${i}` } },
        template: {
          metadata: { labels: { app: `app-${i}` } },
          spec: { containers: [{ name: "app", image: `registry.example.com/app:${i}` }] },
        },
      },
    });
  return out;
}

const median = (values: number[]) => percentile(values, 50);

export async function run(): Promise<void> {
  const plane = await benchCluster();
  const kc = plane.kubeconfigPath;
  const work = mkdtempSync(join(tmpdir(), "gitops-bot-bench-noop-"));
  const suffix = Date.now().toString(36);
  const ours = `noop-${suffix}-bot`;
  const theirs = `noop-${suffix}-kubectl`;
  try {
    for (const ns of [ours, theirs]) await kubectl(kc, ["create", "namespace", ns]);
    const botDir = join(work, "bot");
    const kubectlDir = join(work, "kubectl");
    writeBenchRepo(botDir, "bench-noop", objects(ours));
    writeBenchRepo(kubectlDir, "bench-noop-kubectl", objects(theirs));
    const plan = await buildTree({ repoDir: kubectlDir, ...defaultPlanOptions(BENCH_CLUSTER_PATH) });
    const rendered = plan.kustomizations.flatMap((k) => k.objects);
    const file = join(work, "kubectl.yaml");
    writeFileSync(file, rendered.map((o) => stringify(o)).join("---\n"));
    const apply = () => kubectl(kc, ["apply", "--server-side", "--field-manager=kubectl-bench", "-f", file]);
    console.log(
      `periodic no-op benchmark: ${rendered.length} objects (${CONFIGMAPS} ConfigMaps, ${DEPLOYMENTS} Deployments) on kube-apiserver ${plane.version}`,
    );

    // Both sides applied once (cold, not measured here), then let the Deployments roll out.
    const api = makeObjectApi(loadKubeConfig({ kubeconfig: kc }));
    const options = {
      ...defaultReconcileOptions(botDir, BENCH_CLUSTER_PATH),
      // The scope bench/support/bot-child.ts uses, so that its fresh-process runs may own the same Kustomization.
      scope: `bench:${BENCH_CLUSTER_PATH}`,
      skipHealth: true,
    };
    const cold = await reconcileTree(api, options);
    const failures = [...cold.errors, ...cold.kustomizations.flatMap((k) => k.errors)];
    if (failures.length > 0) throw new Error(`bot cold run failed: ${failures.join("; ")}`);
    await apply();
    await plane.workloadsReady;
    for (const ns of [ours, theirs])
      await kubectl(kc, [
        "wait",
        "--for=condition=Available",
        "deployment",
        "--all",
        "-n",
        ns,
        "--timeout=300s",
      ]);

    const scheduled: number[] = [];
    const fresh: number[] = [];
    const kubectlRuns: number[] = [];
    let unchanged = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const started = performance.now();
      const r = await reconcileTree(api, { ...options, trigger: "schedule", gitChanged: false });
      scheduled.push(performance.now() - started);
      const errs = [...r.errors, ...r.kustomizations.flatMap((k) => k.errors)];
      if (errs.length > 0) throw new Error(`bot scheduled run failed: ${errs.join("; ")}`);
      unchanged = r.kustomizations.reduce(
        (n, k) => n + k.changes.filter((c) => c.action === "unchanged").length,
        0,
      );
      fresh.push((await botRun(botDir, BENCH_CLUSTER_PATH, kc, { health: false, schedule: true })).ms);
      kubectlRuns.push((await apply()).ms);
    }
    const k = median(kubectlRuns);
    const ratio = (n: number) => `${(n / k).toFixed(2)}×`;
    printTable(
      `Periodic no-op reconcile of ${rendered.length} objects vs kubectl apply --server-side (median of ${ROUNDS}; goal ≤ 0.25× kubectl)`,
      ["run", "gitops-bot", "kubectl --server-side", "bot/kubectl", "result"],
      [
        [
          "scheduled, in the running bot",
          ms(median(scheduled)),
          ms(k),
          ratio(median(scheduled)),
          `${unchanged} unchanged`,
        ],
        ["fresh process (CLI)", ms(median(fresh)), ms(k), ratio(median(fresh)), ""],
      ],
    );
  } finally {
    await kubectl(kc, ["delete", "namespace", "--wait=false", ours, theirs]).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}
