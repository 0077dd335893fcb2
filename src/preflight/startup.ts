// The server's start-up check and readiness: the operator's clusters answer, kustomize and helm are there, and
// what every run needs is allowed. Kept fresh by a timer so /readyz follows cluster reachability; trees are
// not known here (they are on GitHub), so per-tree permissions are `gitops-bot check`'s job.
import type { Logger } from "pino";
import { loadKubeConfig } from "../cluster/kube-client.js";
import type { OperatorCluster } from "../config/operator-config.js";
import { checkCluster } from "./check-cluster.js";
import { missingPermissions } from "./render.js";
import { checkTools, type ToolCheck } from "./tools.js";

export interface ClusterReadiness {
  name: string;
  reachable: boolean;
  serverVersion?: string;
  error?: string;
  /** `list configmaps (cluster-wide)`: what every run needs and the cluster refuses. */
  missing: string[];
}

export interface Readiness {
  /** Tools usable and every cluster reachable. Missing permissions are reported, not counted: one repository's reconcile fails with its 403 explained, the others go on. */
  ready: boolean;
  checkedAt: string;
  tools: ToolCheck[];
  clusters: ClusterReadiness[];
}

export async function startupCheck(clusters: readonly OperatorCluster[]): Promise<Readiness> {
  const [tools, results] = await Promise.all([
    checkTools(),
    Promise.all(
      clusters.map(async (cluster): Promise<ClusterReadiness> => {
        let kubeConfig: ReturnType<typeof loadKubeConfig>;
        try {
          kubeConfig = loadKubeConfig({
            kubeconfig: cluster.kubeconfig,
            context: cluster.context,
            inCluster: cluster.inCluster,
          });
        } catch (err) {
          return { name: cluster.name, reachable: false, error: (err as Error).message, missing: [] };
        }
        const c = await checkCluster({ name: cluster.name, kubeConfig });
        return {
          name: cluster.name,
          reachable: c.reachable,
          ...(c.serverVersion ? { serverVersion: c.serverVersion } : {}),
          ...(c.error ? { error: c.error } : {}),
          missing: missingPermissions(c),
        };
      }),
    ),
  ]);
  return {
    ready: tools.every((t) => t.ok) && results.every((c) => c.reachable),
    checkedAt: new Date().toISOString(),
    tools,
    clusters: results,
  };
}

/** One log line per finding: info when fine, warn for a missing permission, error for an unreachable cluster or tool. */
export function logReadiness(log: Pick<Logger, "info" | "warn" | "error">, r: Readiness): void {
  for (const t of r.tools) {
    if (t.ok) log.info({ tool: t.tool, version: t.version, binary: t.binary }, "preflight: tool found");
    else log.error({ tool: t.tool, binary: t.binary, error: t.error }, "preflight: tool not usable");
  }
  for (const c of r.clusters) {
    if (!c.reachable) log.error({ cluster: c.name, error: c.error }, "preflight: cluster not reachable");
    else log.info({ cluster: c.name, version: c.serverVersion }, "preflight: cluster reachable");
    if (c.error && c.reachable)
      log.warn({ cluster: c.name, error: c.error }, "preflight: permissions not checked");
    for (const m of c.missing) log.warn({ cluster: c.name, permission: m }, "preflight: permission missing");
  }
}

/** `GET /readyz`'s answer: 200 when ready, 503 otherwise, with the findings as JSON (no secrets in them). */
export function readinessResponse(r: Readiness | undefined): { status: number; body: string } {
  if (!r)
    return { status: 503, body: `${JSON.stringify({ ready: false, reason: "start-up check running" })}\n` };
  return { status: r.ready ? 200 : 503, body: `${JSON.stringify(r)}\n` };
}

/**
 * Runs the check now and every `intervalMs` after (unref'd, never two at once), so readiness follows the
 * clusters. `current()` is undefined until the first check ends.
 */
export function watchReadiness(
  clusters: readonly OperatorCluster[],
  opts: { intervalMs?: number; onChange?: (r: Readiness, previous: Readiness | undefined) => void } = {},
): { current(): Readiness | undefined; first: Promise<Readiness>; stop(): void } {
  let current: Readiness | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = async (): Promise<Readiness> => {
    const next = await startupCheck(clusters);
    const previous = current;
    current = next;
    if (!previous || previous.ready !== next.ready) opts.onChange?.(next, previous);
    if (!stopped) {
      timer = setTimeout(() => void run().catch(() => undefined), opts.intervalMs ?? 30_000);
      timer.unref();
    }
    return next;
  };
  const first = run();
  return {
    current: () => current,
    first,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
