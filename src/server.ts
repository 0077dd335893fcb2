#!/usr/bin/env node
// Process entry for `npm start`: the probot server with gitops-bot loaded, or — when the GitHub App is not yet
// registered (no APP_ID / private key) — probot's setup flow that registers it from app.yml and writes `.env`.
// Stops cleanly on SIGTERM/SIGINT: no new webhooks, in-flight work finished, then exit 0.
import { existsSync } from "node:fs";
import { Probot, Server } from "probot";
import { loadOperatorConfig } from "./config/operator-config.js";
import { readServerEnv } from "./config/server-env.js";
import { healthzHandler } from "./github/http-routes.js";
import { GitOpsOctokit } from "./github/octokit.js";
import { createGitOpsApp, type GitOpsApp } from "./index.js";
import { createLogger } from "./observability/logger.js";

type SetupAppFactory = (options: {
  host: string;
  port: number;
  log: import("pino").Logger;
  updateEnv?: (env: Record<string, string>) => Record<string, string>;
}) => Parameters<Server["loadHandlerFactory"]>[0];

// probot's setup flow is what its users know, but probot only exposes it through `run()`, which cannot serve
// extra routes such as /healthz in setup mode. Load the same module `run()` uses, by path.
async function loadSetupAppFactory(): Promise<SetupAppFactory> {
  const entry = import.meta.resolve("probot");
  const mod = (await import(new URL("./apps/setup.js", entry).href)) as { setupAppFactory?: SetupAppFactory };
  if (typeof mod.setupAppFactory !== "function") {
    throw new Error("this probot version has no setup flow at lib/apps/setup.js; pin probot 14");
  }
  return mod.setupAppFactory;
}

export async function main(): Promise<Server> {
  if (existsSync(".env")) process.loadEnvFile(".env");
  const env = readServerEnv();
  const log = createLogger({ level: env.logLevel });
  const registered = Boolean(env.appId && env.privateKey);
  const health = { mode: registered ? "running" : "setup", startedAt: new Date() } as const;
  const routes = [healthzHandler(health)];

  const probotDefaults = Probot.defaults({
    // Setup mode never calls GitHub as the app; probot needs placeholder credentials to construct (see probot#1512).
    appId: env.appId ?? 1,
    privateKey: env.privateKey ?? "placeholder: app not registered yet",
    secret: env.webhookSecret,
    baseUrl: env.baseUrl,
    Octokit: GitOpsOctokit,
    log,
  });
  const server = new Server({
    host: env.host,
    port: env.port,
    webhookPath: env.webhookPath,
    webhookProxy: env.webhookProxyUrl,
    log,
    Probot: probotDefaults,
  });

  let app: GitOpsApp | undefined;
  if (registered) {
    const operator = loadOperatorConfig();
    log.info({ file: operator.file ?? "(none: no clusters)" }, "operator configuration");
    app = createGitOpsApp({
      routes,
      operator: operator.config,
      discoverOnStart: true,
      githubHost: new URL(env.baseUrl).hostname.replace(/^api\./, ""),
    });
    await server.load(app.appFn);
  } else {
    if (process.env.NODE_ENV === "production") {
      throw new Error("APP_ID and PRIVATE_KEY (or PRIVATE_KEY_PATH) are required when NODE_ENV=production");
    }
    await server.load((_app, { addHandler }) => {
      for (const route of routes) addHandler(route);
    });
    const setupAppFactory = await loadSetupAppFactory();
    await server.loadHandlerFactory(
      setupAppFactory({ host: env.host, port: env.port, log: log.child({ name: "setup" }) }),
    );
  }
  await server.start();
  log.info({ mode: health.mode, port: server.port }, "gitops-bot started");

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    try {
      await server.stop();
      // Runs already started finish, so no cluster is left half-applied and no status stays pending.
      await app?.close();
      log.info("stopped");
      process.exit(0);
    } catch (err) {
      log.error({ err }, "error while stopping");
      process.exit(1);
    }
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
  return server;
}

main().catch((err: unknown) => {
  // Start-up errors are configuration mistakes; print them plainly, not as a stack trace in a JSON line.
  console.error(`gitops-bot: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
