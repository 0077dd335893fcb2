// One bot engine run in its own process (as the CLI or a fresh replica runs it): wall time includes process
// start, like kubectl's. Prints one JSON line with the run's phases, measured from the engine's progress events.
// argv: repoDir clusterPath kubeconfig health|no-health [schedule]

import { loadKubeConfig, makeObjectApi, setKubeRequestHook } from "../../src/cluster/kube-client.js";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";

const [repoDir, clusterPath, kubeconfig, health, trigger] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string | undefined,
];
const api = makeObjectApi(loadKubeConfig({ kubeconfig }));
// API requests by verb, and the sum of their latencies (more than the wall time when they overlap).
const requests: Record<string, number> = {};
let requestSeconds = 0;
setKubeRequestHook((e) => {
  requests[e.verb] = (requests[e.verb] ?? 0) + 1;
  requestSeconds += e.seconds;
});
// BENCH_COUNT_CALLS=1: reads and patches by kind (patches split into dry-run and apply), to attribute requests.
const calls: Record<string, number> = {};
if (process.env.BENCH_COUNT_CALLS) {
  const read = api.read.bind(api);
  const patch = api.patch.bind(api);
  api.read = ((spec: { kind?: string }, ...rest: unknown[]) => {
    calls[`read ${spec.kind}`] = (calls[`read ${spec.kind}`] ?? 0) + 1;
    return (read as (...a: unknown[]) => unknown)(spec, ...rest);
  }) as typeof api.read;
  api.patch = ((spec: { kind?: string }, pretty?: string, dryRun?: string, ...rest: unknown[]) => {
    const key = `patch${dryRun ? " (dry-run)" : ""} ${spec.kind}`;
    calls[key] = (calls[key] ?? 0) + 1;
    return (patch as (...a: unknown[]) => unknown)(spec, pretty, dryRun, ...rest);
  }) as typeof api.patch;
}
const started = performance.now();
const since = () => performance.now() - started;
let plannedMs = 0;
let firstStartedMs: number | undefined;
let firstAppliedMs: number | undefined;
let lastAppliedMs = 0;
const options = defaultReconcileOptions(repoDir, clusterPath);
const run = await reconcileTree(api, {
  ...options,
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
    cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    requests,
    requestMs: requestSeconds * 1000,
    calls,
    failures: failures.slice(0, 10),
  }),
);
