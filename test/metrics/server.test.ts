// `npm start` serves /metrics: on the app's port by default, only on METRICS_PORT when that is set, and a bad
// METRICS_PORT stops the start with a message naming it. The compiled server in its own process.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BuiltServer, buildServer, startServer, untilHealthy } from "../security/server-process.js";
import { freePort } from "../support/processes.js";

let built: BuiltServer;
beforeAll(() => {
  built = buildServer();
}, 120_000);
afterAll(() => built?.remove());

describe("/metrics on the server", () => {
  it("serves Prometheus' text format with process metrics on the app's port", {
    timeout: 60_000,
  }, async () => {
    const server = await startServer(built, { env: { LOG_LEVEL: "warn" } });
    try {
      await untilHealthy(server);
      const res = await fetch(`http://localhost:${server.port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/plain");
      const text = await res.text();
      expect(text).toContain("# TYPE process_cpu_user_seconds_total counter");
      expect(text).toContain("# TYPE nodejs_eventloop_lag_seconds gauge");
    } finally {
      server.dispose();
    }
  });

  it("serves it only on METRICS_PORT when that is set", { timeout: 60_000 }, async () => {
    const metricsPort = await freePort();
    const server = await startServer(built, {
      env: { LOG_LEVEL: "warn", METRICS_PORT: String(metricsPort) },
    });
    try {
      await untilHealthy(server);
      const own = await fetch(`http://localhost:${metricsPort}/metrics`);
      expect(own.status).toBe(200);
      expect(await own.text()).toContain("process_cpu_user_seconds_total");
      expect((await fetch(`http://localhost:${metricsPort}/healthz`)).status).toBe(200);
      expect((await fetch(`http://localhost:${metricsPort}/other`)).status).toBe(404);
      const app = await fetch(`http://localhost:${server.port}/metrics`, { redirect: "manual" });
      expect(await app.text()).not.toContain("process_cpu_user_seconds_total");
    } finally {
      server.dispose();
    }
  });

  it("refuses to start with a METRICS_PORT that is not a port", { timeout: 60_000 }, async () => {
    const server = await startServer(built, { env: { METRICS_PORT: "metrics" } });
    try {
      expect(await server.exited).toBe(1);
      expect(server.output()).toContain('METRICS_PORT must be a port number (1-65535), got "metrics"');
    } finally {
      server.dispose();
    }
  });
});
