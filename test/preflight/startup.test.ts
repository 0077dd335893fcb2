// The server's start-up check on the real API server: reachable clusters with their versions, an unreachable
// one that makes the bot not ready, a permission every run needs reported by name; /readyz's answer.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { operatorClusterSchema } from "../../src/config/operator-config.js";
import { logReadiness, readinessResponse, startupCheck, watchReadiness } from "../../src/preflight/index.js";
import { createNamespace, testObjectApi } from "../support/kube.js";
import { makeRepo } from "../support/repo-tree.js";

const cluster = (name: string, kubeconfig: string) =>
  operatorClusterSchema.parse({ name, kubeconfig, repositories: ["acme/platform"] });

function unreachableKubeconfig(dir: string): string {
  const file = join(dir, "unreachable.kubeconfig");
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: not-a-token}}]
contexts: [{name: gone, context: {cluster: gone, user: u}}]
current-context: gone
`,
  );
  return file;
}

/** A ServiceAccount with no RBAC at all, and a kubeconfig for it. */
async function powerlessKubeconfig(dir: string): Promise<string> {
  const api = testObjectApi();
  const ns = await createNamespace(api, "startup");
  await api.create({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "nobody", namespace: ns } });
  const file = join(dir, "nobody.kubeconfig");
  let err = "";
  const code = await main(
    [
      "kubeconfig",
      "-n",
      ns,
      "--service-account",
      "nobody",
      "--output",
      file,
      "--kubeconfig",
      inject("kubeconfigPath"),
    ],
    { out: { write: () => true }, err: { write: (s: string) => (err += s) } },
  );
  if (code !== 0) throw new Error(err);
  return file;
}

describe("startupCheck", () => {
  it("is ready when every cluster answers, and names what a cluster refuses", {
    timeout: 60_000,
  }, async () => {
    const dir = makeRepo({});
    const r = await startupCheck([
      cluster("admin", inject("kubeconfigPath")),
      cluster("nobody", await powerlessKubeconfig(dir)),
    ]);
    expect(r.ready).toBe(true);
    expect(r.tools.map((t) => [t.tool, t.ok])).toEqual([
      ["kustomize", true],
      ["helm", true],
    ]);
    expect(r.clusters).toEqual([
      { name: "admin", reachable: true, serverVersion: "v1.35.4", missing: [] },
      {
        name: "nobody",
        reachable: true,
        serverVersion: "v1.35.4",
        missing: ["list configmaps (cluster-wide)"],
      },
    ]);
    const logged: [string, Record<string, unknown>, string][] = [];
    const log = {
      info: (o: object, m: string) => logged.push(["info", o as Record<string, unknown>, m]),
      warn: (o: object, m: string) => logged.push(["warn", o as Record<string, unknown>, m]),
      error: (o: object, m: string) => logged.push(["error", o as Record<string, unknown>, m]),
    };
    logReadiness(log as never, r);
    expect(logged.filter(([level]) => level !== "info")).toEqual([
      [
        "warn",
        { cluster: "nobody", permission: "list configmaps (cluster-wide)" },
        "preflight: permission missing",
      ],
    ]);
    expect(readinessResponse(r).status).toBe(200);
  });

  it("is not ready while a cluster does not answer, and says which and why", {
    timeout: 60_000,
  }, async () => {
    const dir = makeRepo({});
    const watch = watchReadiness(
      [cluster("admin", inject("kubeconfigPath")), cluster("gone", unreachableKubeconfig(dir))],
      {
        intervalMs: 60_000,
      },
    );
    try {
      expect(watch.current()).toBeUndefined();
      expect(readinessResponse(watch.current()).status).toBe(503);
      const r = await watch.first;
      expect(r.ready).toBe(false);
      const gone = r.clusters.find((c) => c.name === "gone");
      expect(gone?.reachable).toBe(false);
      expect(gone?.error).toMatch(/^cannot reach https:\/\/127\.0\.0\.1:1: /);
      const answer = readinessResponse(watch.current());
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject({
        ready: false,
        clusters: [
          { name: "admin", reachable: true },
          { name: "gone", reachable: false },
        ],
      });
      expect(answer.body).not.toContain("not-a-token");
    } finally {
      watch.stop();
    }
  });
});
