// Plain HTTP routes served beside the webhook endpoint, in setup mode as well as when running, and the
// metrics of what arrives through them (webhook deliveries) and of the queue behind them.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Probot } from "probot";
import type { GitOpsMetrics } from "../metrics/metrics.js";
import type { DeliveryLog } from "../queue/delivery-log.js";
import type { WorkQueue } from "../queue/work-queue.js";
import type { GitOpsJob } from "./jobs/types.js";

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface HealthState {
  mode: "setup" | "running";
  startedAt: Date;
}

/** `GET /healthz`: liveness for load balancers and Kubernetes probes; says whether the app is registered yet. */
export function healthzHandler(state: HealthState): HttpHandler {
  return (req, res) => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/healthz") return false;
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        status: "ok",
        mode: state.mode,
        uptimeSeconds: Math.round((Date.now() - state.startedAt.getTime()) / 1000),
      }),
    );
    return true;
  };
}

/**
 * `GET /readyz`: readiness for Kubernetes probes — the start-up check's answer (tools found, every operator
 * cluster reachable), kept fresh by a timer; 503 while it runs or when something is missing.
 */
export function readyzHandler(answer: () => { status: number; body: string }): HttpHandler {
  return (req, res) => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/readyz") return false;
    const { status, body } = answer();
    res.writeHead(status, { "content-type": "application/json" }).end(body);
    return true;
  };
}

/** What `/metrics` serves: the text exposition format of one registry. */
export interface MetricsSource {
  text(): Promise<string>;
  readonly contentType: string;
}

/** `GET /metrics`: Prometheus' text format, for a scrape. Query strings are ignored. */
export function metricsHandler(metrics: MetricsSource): HttpHandler {
  return async (req, res) => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") return false;
    try {
      const body = await metrics.text();
      res.writeHead(200, { "content-type": metrics.contentType }).end(body);
    } catch (err) {
      res
        .writeHead(500, { "content-type": "text/plain" })
        .end(`cannot collect metrics: ${(err as Error).message}`);
    }
    return true;
  };
}

/** A plain HTTP server for `METRICS_PORT`: `/metrics` and `/healthz` only, everything else 404. */
export function routesListener(routes: HttpHandler[]) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    for (const route of routes) {
      if (await route(req, res)) return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found");
  };
}

/** The job type and, for a reconcile, the cluster: the labels a queued job gets. */
export function describeJob(job: GitOpsJob): { type: string; cluster?: string } {
  return job.type === "reconcile" ? { type: job.type, cluster: job.cluster.name } : { type: job.type };
}

/**
 * Feeds `metrics` from the app: webhook deliveries probot verified (by event) and the ones whose handler
 * failed, redeliveries the delivery log refused, and every job through the queue. Call before the app's own
 * handlers are registered, so a delivery is counted before its handler runs.
 */
export function instrumentApp(
  metrics: GitOpsMetrics,
  probot: Pick<Probot, "onAny" | "onError">,
  app: { queue: WorkQueue<GitOpsJob>; deliveries: DeliveryLog },
): void {
  probot.onAny((event) => metrics.recordDelivery(event.name, "received", event.id));
  probot.onError((error) => {
    const event = (error as { event?: { name?: string } }).event;
    metrics.recordDelivery(event?.name ?? "unknown", "failed");
  });
  app.deliveries.observe?.({ duplicate: (id) => metrics.recordDuplicateDelivery(id) });
  app.queue.observe?.(metrics.queueObserver(describeJob));
}
