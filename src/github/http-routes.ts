// Plain HTTP routes served beside the webhook endpoint, in setup mode as well as when running.
import type { IncomingMessage, ServerResponse } from "node:http";

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
