// One engine run in its own process, as the CLI or a bot replica would do it, so that its wall time includes
// process start (like kubectl's) and its peak RSS is its own. Prints one JSON line.
import { loadKubeConfig, makeObjectApi } from "../src/cluster/kube-client.js";
import { defaultReconcileOptions, reconcileTree } from "../src/reconcile/run.js";

const [repoDir, clusterPath, scope, kubeconfig] = process.argv.slice(2) as [string, string, string, string];
const api = makeObjectApi(loadKubeConfig({ kubeconfig }));
const started = performance.now();
let buildMs = 0;
const run = await reconcileTree(api, {
  ...defaultReconcileOptions(repoDir, clusterPath),
  scope,
  skipHealth: true,
  onProgress: (e) => {
    if (e.type === "planned") buildMs = performance.now() - started;
  },
});
const failures = [...run.errors, ...run.kustomizations.flatMap((k) => k.errors)];
const count = (a: string) =>
  run.kustomizations.reduce((n, k) => n + k.changes.filter((c) => c.action === a).length, 0);
console.log(
  JSON.stringify({
    engineMs: performance.now() - started,
    buildMs,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    created: count("created"),
    configured: count("configured"),
    unchanged: count("unchanged"),
    failures,
  }),
);
