// The bot's engine inside the benchmark's own process, as a running bot replica reconciles on its schedule: modules
// loaded, API discovery and keep-alive connections warm, the same as a Flux controller that has reconciled before.
// The fresh-process figure (bot-child.ts) stays beside it: that is what the CLI pays.
import {
  loadKubeConfig,
  makeObjectApi,
  type RawObjectApi,
  setKubeRequestHook,
} from "../../src/cluster/kube-client.js";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import type { BotRun } from "./timed.js";

/** One API client per cluster, as a replica keeps it (discovery and keep-alive connections shared by its runs). */
const clients = new Map<string, RawObjectApi>();

/**
 * `noop`: one untimed run first (the replica has reconciled this tree before, as Flux's controller has), then the
 * timed one: a scheduled reconcile with Git unchanged, as the schedule runs it. `cold`: the replica's first run of
 * a tree whose objects do not exist yet (a push of a new cluster path), timed from the start.
 */
export async function botInProcess(
  repoDir: string,
  clusterPath: string,
  kubeconfig: string,
  mode: "noop" | "cold" = "noop",
  opts: { warmUp?: boolean } = {},
): Promise<BotRun> {
  let api = clients.get(kubeconfig);
  if (!api) {
    api = makeObjectApi(loadKubeConfig({ kubeconfig }));
    clients.set(kubeconfig, api);
  }
  const options = {
    ...defaultReconcileOptions(repoDir, clusterPath),
    // The scope bot-child.ts uses for the same cluster path: the same inventories.
    scope: `bench:${clusterPath}`,
    skipHealth: true,
    ...(mode === "noop" ? { trigger: "schedule" as const, gitChanged: false } : {}),
  };
  // A caller that measures this call's CPU warms up apart (`warmUp: false`), so only the timed run counts.
  if (mode === "noop" && opts.warmUp !== false) await reconcileTree(api, options);
  const requests: Record<string, number> = {};
  let requestSeconds = 0;
  setKubeRequestHook((e) => {
    requests[e.verb] = (requests[e.verb] ?? 0) + 1;
    requestSeconds += e.seconds;
  });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const since = () => performance.now() - started;
  let plannedMs = 0;
  let firstAppliedMs: number | undefined;
  let lastAppliedMs = 0;
  try {
    const run = await reconcileTree(api, {
      ...options,
      onProgress: (e) => {
        if (e.type === "planned") plannedMs = since();
        if (e.type === "applied") {
          firstAppliedMs ??= since();
          lastAppliedMs = since();
        }
      },
    });
    const ms = since();
    const failures = [...run.errors, ...run.kustomizations.flatMap((k) => k.errors)];
    if (failures.length > 0) throw new Error(`bot in-process run failed: ${failures.slice(0, 5).join("; ")}`);
    const count = (a: string) =>
      run.kustomizations.reduce((n, k) => n + k.changes.filter((c) => c.action === a).length, 0);
    const used = process.cpuUsage(cpu);
    return {
      ms,
      engineMs: ms,
      plannedMs,
      ...(firstAppliedMs !== undefined ? { firstAppliedMs } : {}),
      lastAppliedMs,
      kustomizations: run.kustomizations.length,
      ready: run.kustomizations.filter((k) => k.status === "Ready").length,
      created: count("created"),
      configured: count("configured"),
      unchanged: count("unchanged"),
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      cpuMs: (used.user + used.system) / 1000,
      requests,
      requestMs: requestSeconds * 1000,
    };
  } finally {
    setKubeRequestHook(undefined);
  }
}
