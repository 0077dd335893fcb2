// The probot application: wires event handlers to the engine and nothing else.
import type { ApplicationFunction } from "probot";

export interface AppOptions {
  /** Extra HTTP routes (health, metrics) to serve beside the webhook endpoint. */
  routes?: import("./github/http-routes.js").HttpHandler[];
}

export function createApp(opts: AppOptions = {}): ApplicationFunction {
  return (app, { addHandler }) => {
    for (const route of opts.routes ?? []) addHandler(route);
    app.log.info("gitops-bot loaded");
  };
}

export default createApp();
