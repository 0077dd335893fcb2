#!/usr/bin/env node
// Process entry for `npm start`: the probot server with gitops-bot loaded, or — when the GitHub App is not yet
// registered (no APP_ID / private key) — probot's setup flow that registers it from app.yml and writes `.env`.
// Stops on SIGTERM/SIGINT within the operator's shutdown.gracePeriod (default 30 s): no new webhooks, runs not
// started handed back, running ones finished or — at the end of the grace — reported as cut off, then exit 0.
// At start-up, runs an earlier process did not finish are re-run or closed (src/github/recovery/).
// With NODE_ENV=production it refuses to start without app credentials and a real WEBHOOK_SECRET, and never
// serves the setup flow (config/server-env.ts).
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import type { Logger } from "pino";
import { Probot, Server } from "probot";
import { setBuildCacheObserver } from "./build/build-cache.js";
import { loadKubeConfig, setKubeRequestHook, setKubeTimeouts } from "./cluster/kube-client.js";
import type { OperatorConfig } from "./config/operator-config.js";
import { kubeTimeoutsOf, loadOperatorConfig, shutdownGraceMs } from "./config/operator-config.js";
import { readServerEnv } from "./config/server-env.js";
import {
  type HttpHandler,
  healthzHandler,
  instrumentApp,
  metricsHandler,
  readyzHandler,
  routesListener,
} from "./github/http-routes.js";
import { GitOpsOctokit } from "./github/octokit.js";
import { withinMs } from "./github/recovery/lifecycle.js";
import { shutDownWithin } from "./github/recovery/shutdown.js";
import { createGitOpsApp, type GitOpsApp } from "./index.js";
import { GitOpsMetrics, githubMetricsPlugin } from "./metrics/index.js";
import { createLogger } from "./observability/logger.js";
import { logReadiness, readinessResponse, watchReadiness } from "./preflight/index.js";

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
  const log = createLogger({
    level: env.logLevel,
    secrets: [env.webhookSecret, ...(env.privateKey ? [env.privateKey] : [])],
  });
  installProcessGuards(log);
  const registered = Boolean(env.appId && env.privateKey);
  const health = { mode: registered ? "running" : "setup", startedAt: new Date() } as const;
  const metrics = new GitOpsMetrics();
  setKubeRequestHook((event) =>
    metrics.recordKubeRequest({ ...event, cluster: metrics.kubeClusterOf(event.server) }),
  );
  setBuildCacheObserver((result) => metrics.recordBuildCache(result));
  const metricsPort = env.metricsPort;
  // With METRICS_PORT, /metrics is served there only (a port the cluster network can keep private).
  const routes: HttpHandler[] = [healthzHandler(health)];
  if (metricsPort === undefined) routes.push(metricsHandler(metrics));

  const probotDefaults = Probot.defaults({
    // Setup mode never calls GitHub as the app; probot needs placeholder credentials to construct (see probot#1512).
    appId: env.appId ?? 1,
    privateKey: env.privateKey ?? "placeholder: app not registered yet",
    secret: env.webhookSecret,
    baseUrl: env.baseUrl,
    Octokit: GitOpsOctokit.plugin(githubMetricsPlugin(metrics)),
    log,
    // With several replicas, probot's throttling (Bottleneck) keeps its pacing in the same Redis, so the
    // replicas together stay under GitHub's secondary rate limits rather than each on its own.
    ...(env.redisUrl ? { redisConfig: env.redisUrl } : {}),
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
  let readiness: ReturnType<typeof watchReadiness> | undefined;
  let graceMs = shutdownGraceMs({});
  if (registered) {
    const operator = loadOperatorConfig();
    log.info({ file: operator.file ?? "(none: no clusters)" }, "operator configuration");
    setKubeTimeouts(kubeTimeoutsOf(operator.config));
    graceMs = shutdownGraceMs(operator.config);
    // The start-up check (tools, clusters) runs in the background: the server answers at once, /readyz says
    // when it is ready, and the log says what is missing.
    const watched = watchReadiness(operator.config.clusters, { onChange: (r) => logReadiness(log, r) });
    readiness = watched;
    routes.push(readyzHandler(() => readinessResponse(watched.current())));
    app = createGitOpsApp({
      routes,
      operator: operator.config,
      discoverOnStart: true,
      recoverOnStart: true,
      metrics,
      // Every image-automation scan ends in a pull-request action (created, updated, unchanged, closed, none).
      onImageScan: (_automation, action) => metrics.recordImagePullRequest(action),
      githubHost: new URL(env.baseUrl).hostname.replace(/^api\./, ""),
      ...(env.appId !== undefined ? { appId: env.appId } : {}),
      ...(env.redisUrl ? { redisUrl: env.redisUrl } : {}),
    });
    nameClusters(metrics, operator.config, log);
    const gitops = app;
    await server.load(async (probot, options) => {
      instrumentApp(metrics, probot, gitops);
      await gitops.appFn(probot, options);
    });
  } else {
    // Setup mode: ready to serve the setup flow (never in production).
    routes.push(
      readyzHandler(() => ({ status: 200, body: `${JSON.stringify({ ready: true, mode: "setup" })}\n` })),
    );
    if (env.production) {
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
  const metricsServer =
    metricsPort === undefined
      ? undefined
      : await listen(
          routesListener([metricsHandler(metrics), healthzHandler(health)]),
          env.host,
          metricsPort,
        );
  log.info({ mode: health.mode, port: server.port, metricsPort }, "gitops-bot started");

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    log.info({ signal, graceMs }, "shutting down");
    // Whatever hangs (a client holding a connection open, a report GitHub never answers), the process ends
    // within its grace: Kubernetes would SIGKILL it soon after anyway.
    setTimeout(() => {
      log.warn({ graceMs }, "shutdown grace over; exiting");
      log.flush();
      process.exit(0);
    }, graceMs + 500).unref();
    try {
      readiness?.stop();
      // Stop taking work at once: runs that have not started hand themselves back from now on.
      app?.lifecycle.beginShutdown();
      // No new webhooks. Open keep-alive connections may hold close() up: bounded, and not waited for
      // before the work is.
      const listening = withinMs(
        Promise.all([
          server.stop(),
          new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve())),
        ]),
        Math.min(2_000, graceMs / 4),
      );
      if (app) {
        // Running work finishes within the grace, or reports itself cut off (re-run at the next start).
        const outcome = await shutDownWithin(app, Math.max(0, graceMs - (Date.now() - started)), log);
        log.info({ ...outcome, ms: Date.now() - started }, "work stopped");
      }
      await listening;
      log.info("stopped");
      log.flush();
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

function listen(listener: ReturnType<typeof routesListener>, host: string, port: number) {
  return new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const server = createServer((req, res) => void listener(req, res));
    server.once("error", (err) => reject(new Error(`METRICS_PORT ${port}: ${err.message}`, { cause: err })));
    server.listen(port, host, () => resolve(server));
  });
}

/** Kubernetes request metrics carry the operator's cluster names: map each cluster's API server URL to it. */
function nameClusters(metrics: GitOpsMetrics, operator: OperatorConfig, log: Logger): void {
  for (const cluster of operator.clusters) {
    try {
      const server = loadKubeConfig(cluster).getCurrentCluster()?.server;
      if (server) metrics.kubeClusters.set(server, cluster.name);
    } catch (err) {
      // The job that uses this cluster reports the same error where its users look.
      log.warn({ err, cluster: cluster.name }, "cannot read the cluster's kubeconfig for metrics");
    }
  }
}

/**
 * The last line, not the fix: every job's failure is caught where it runs and ends in its own statuses.
 * - A promise rejected with nobody to handle it is a bug, but one repository's bug: log it (scrubbed, through
 *   the redacting logger) and keep serving every other repository.
 * - An exception thrown with nothing to catch it leaves the process in a state nobody can vouch for (a half-run
 *   callback, a stream without its error handler), and Node's documentation says not to resume after one: log
 *   it, then exit 1 so the process manager (Kubernetes, systemd) starts a clean process. Runs in flight are
 *   lost; their statuses stay pending until the next push or `/gitops reconcile`, as after any crash.
 */
function installProcessGuards(log: Logger): void {
  process.on("unhandledRejection", (reason) => {
    log.error({ err: reason }, "unhandled promise rejection (a bug, reported and survived); still serving");
  });
  process.on("uncaughtException", (err, origin) => {
    log.fatal({ err, origin }, "uncaught exception; exiting for a clean restart");
    log.flush();
    process.exit(1);
  });
}

main().catch((err: unknown) => {
  // Start-up errors are configuration mistakes; print them plainly, not as a stack trace in a JSON line.
  console.error(`gitops-bot: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
