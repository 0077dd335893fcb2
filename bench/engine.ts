// Issue 3's benchmark: 1,000 ConfigMaps + 100 Deployments + a CRD and 50 custom objects, reconciled by the
// engine (cold, no-op, 1 % change) beside `kubectl apply --server-side` of the same rendered manifests, on
// the same API server in the same run.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { defaultPlanOptions } from "../src/reconcile/plan.js";
import { buildTree } from "../src/reconcile/run.js";
import { benchCluster } from "./support/cluster.js";
import { BENCH_CLUSTER_PATH, writeBenchRepo } from "./support/repo.js";
import { mib, ms, printTable } from "./support/table.js";

interface Generated {
  dir: string;
  clusterPath: string;
}

function objects(ns: string, group: string, generation: number): object[] {
  const out: object[] = [
    {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: `widgets.${group}` },
      spec: {
        group,
        names: { kind: "Widget", plural: "widgets", singular: "widget", listKind: "WidgetList" },
        scope: "Namespaced",
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: "object",
                properties: { spec: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
              },
            },
          },
        ],
      },
    },
  ];
  // The 1 % change: every 100th ConfigMap and Deployment gets a new value.
  const rev = (i: number) => (generation > 0 && i % 100 === 0 ? `v${generation}` : "v0");
  for (let i = 0; i < 1000; i++) {
    out.push({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `config-${i}`, namespace: ns },
      data: { index: String(i), revision: rev(i), payload: `value-${i}-`.repeat(20) },
    });
  }
  for (let i = 0; i < 100; i++) {
    out.push({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: `app-${i}`, namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: `app-${i}` } },
        template: {
          metadata: { labels: { app: `app-${i}` }, annotations: { revision: rev(i * 10) } },
          spec: {
            containers: [
              { name: "app", image: `registry.example.com/app:${i}`, ports: [{ containerPort: 8080 }] },
            ],
          },
        },
      },
    });
  }
  for (let i = 0; i < 50; i++) {
    out.push({
      apiVersion: `${group}/v1`,
      kind: "Widget",
      metadata: { name: `widget-${i}`, namespace: ns },
      spec: { size: i },
    });
  }
  return out;
}

export function writeRepo(dir: string, ns: string, group: string, generation: number): Generated {
  writeBenchRepo(dir, "bench-engine", [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
    ...objects(ns, group, generation),
  ]);
  return { dir, clusterPath: BENCH_CLUSTER_PATH };
}

function timed(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve({ ms: performance.now() - started, stdout })
        : reject(new Error(`${cmd} ${args.slice(0, 3).join(" ")} exited ${code}: ${stderr.slice(-2000)}`)),
    );
  });
}

interface EngineRun {
  ms: number;
  buildMs: number;
  engineMs: number;
  maxRssBytes: number;
  created: number;
  configured: number;
  unchanged: number;
}

async function engineRun(g: Generated, kubeconfig: string): Promise<EngineRun> {
  const child = new URL("./engine-child.js", import.meta.url).pathname;
  const { ms: wall, stdout } = await timed(process.execPath, [
    child,
    g.dir,
    g.clusterPath,
    "bench:engine",
    kubeconfig,
  ]);
  const out = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as EngineRun & { failures: string[] };
  if (out.failures.length > 0) throw new Error(`engine run failed: ${out.failures.join("; ")}`);
  return { ...out, ms: wall };
}

/** kubectl gets the same objects the engine applies, CRDs first (it cannot apply a CR before its CRD exists). */
async function kubectlRun(dir: string, g: Generated, kubeconfig: string): Promise<number> {
  const plan = await buildTree({ repoDir: g.dir, ...defaultPlanOptions(g.clusterPath) });
  const all = plan.kustomizations.flatMap((k) => k.objects);
  const first = all.filter((o) => o.kind === "CustomResourceDefinition" || o.kind === "Namespace");
  const rest = all.filter((o) => !first.includes(o));
  writeFileSync(join(dir, "first.yaml"), first.map((o) => stringify(o)).join("---\n"));
  writeFileSync(join(dir, "rest.yaml"), rest.map((o) => stringify(o)).join("---\n"));
  const kubectl = (args: string[]) => timed("kubectl", ["--kubeconfig", kubeconfig, ...args]);
  let total = (
    await kubectl(["apply", "--server-side", "--field-manager=kubectl-bench", "-f", join(dir, "first.yaml")])
  ).ms;
  const crds = first
    .filter((o) => o.kind === "CustomResourceDefinition")
    .map((o) => `crd/${o.metadata?.name}`);
  if (crds.length > 0)
    total += (await kubectl(["wait", "--for=condition=Established", "--timeout=60s", ...crds])).ms;
  total += (
    await kubectl(["apply", "--server-side", "--field-manager=kubectl-bench", "-f", join(dir, "rest.yaml")])
  ).ms;
  return total;
}

export async function run(): Promise<void> {
  const plane = await benchCluster();
  const work = mkdtempSync(join(tmpdir(), "gitops-bot-bench-engine-"));
  try {
    const suffix = Date.now().toString(36);
    const ours = (gen: number) =>
      writeRepo(join(work, "ours"), `bench-engine-${suffix}`, `engine${suffix}.bench.example.com`, gen);
    const theirs = (gen: number) =>
      writeRepo(join(work, "kubectl"), `bench-kubectl-${suffix}`, `kubectl${suffix}.bench.example.com`, gen);
    const kc = plane.kubeconfigPath;
    const objectsCount = 1 + 1 + 1000 + 100 + 50;
    console.log(
      `engine benchmark: ${objectsCount} objects (Namespace, CRD, 1,000 ConfigMaps, 100 Deployments, 50 custom objects) on kube-apiserver ${plane.version}`,
    );

    const rows: (string | number)[][] = [];
    const cold = await engineRun(ours(0), kc);
    const kCold = await kubectlRun(work, theirs(0), kc);
    rows.push([
      "cold apply",
      ms(cold.ms),
      ms(cold.buildMs),
      ms(kCold),
      `${(cold.ms / kCold).toFixed(2)}×`,
      mib(cold.maxRssBytes),
      `${cold.created} created`,
    ]);
    const noop = await engineRun(ours(0), kc);
    const kNoop = await kubectlRun(work, theirs(0), kc);
    rows.push([
      "no-op re-reconcile",
      ms(noop.ms),
      ms(noop.buildMs),
      ms(kNoop),
      `${(noop.ms / kNoop).toFixed(2)}×`,
      mib(noop.maxRssBytes),
      `${noop.unchanged} unchanged`,
    ]);
    const change = await engineRun(ours(1), kc);
    const kChange = await kubectlRun(work, theirs(1), kc);
    rows.push([
      "1 % change",
      ms(change.ms),
      ms(change.buildMs),
      ms(kChange),
      `${(change.ms / kChange).toFixed(2)}×`,
      mib(change.maxRssBytes),
      `${change.configured} configured`,
    ]);
    printTable(
      "Reconcile vs kubectl apply --server-side (wall time incl. process start; targets: no-op ≤ 0.5× kubectl, cold ≤ 1×, RSS < 300 MiB)",
      ["scenario", "gitops-bot", "of which build", "kubectl (pre-rendered)", "ratio", "peak RSS", "result"],
      rows,
    );
    // Leave the API server as we found it for the next suite.
    for (const ns of [`bench-engine-${suffix}`, `bench-kubectl-${suffix}`]) {
      execFileSync("kubectl", ["--kubeconfig", kc, "delete", "namespace", ns, "--wait=false"], {
        stdio: "ignore",
      });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
