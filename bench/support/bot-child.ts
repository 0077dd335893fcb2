// One bot engine run in its own process (as the CLI or a fresh replica runs it): wall time includes process
// start, like kubectl's. Prints one JSON line with the run's phases, measured from the engine's progress events.
// argv: repoDir clusterPath kubeconfig health|no-health [schedule]
import { loadKubeConfig, makeObjectApi } from "../../src/cluster/kube-client.js";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";

const [repoDir, clusterPath, kubeconfig, health, trigger] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string | undefined,
];
const api = makeObjectApi(loadKubeConfig({ kubeconfig }));
const started = performance.now();
const since = () => performance.now() - started;
let plannedMs = 0;
let firstStartedMs: number | undefined;
let firstAppliedMs: number | undefined;
let lastAppliedMs = 0;
const run = await reconcileTree(api, {
  ...defaultReconcileOptions(repoDir, clusterPath),
  scope: `bench:${clusterPath}`,
  skipHealth: health !== "health",
  ...(trigger === "schedule" ? { trigger: "schedule" as const, gitChanged: false } : {}),
  onProgress: (e) => {
    if (e.type === "planned") plannedMs = since();
    if (e.type === "started") firstStartedMs ??= since();
    if (e.type === "applied") {
      firstAppliedMs ??= since();
      lastAppliedMs = since();
    }
  },
});
const failures = [...run.errors, ...run.kustomizations.flatMap((k) => k.errors)];
const count = (a: string) =>
  run.kustomizations.reduce((n, k) => n + k.changes.filter((c) => c.action === a).length, 0);
console.log(
  JSON.stringify({
    engineMs: since(),
    plannedMs,
    firstStartedMs,
    firstAppliedMs,
    lastAppliedMs,
    kustomizations: run.kustomizations.length,
    ready: run.kustomizations.filter((k) => k.status === "Ready").length,
    created: count("created"),
    configured: count("configured"),
    unchanged: count("unchanged"),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    failures: failures.slice(0, 10),
  }),
);
