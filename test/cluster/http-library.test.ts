// The engine's HTTP path to an API server (cluster/node-http-library.ts), against real local HTTP servers:
// what it sends, that it decodes compressed answers, that it never follows a redirect (the kubeconfig's token
// would go with it), and how a failed connection reads.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { makeObjectApi } from "../../src/cluster/kube-client.js";
import { getLive } from "../../src/cluster/ssa/read.js";

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A fake API server: discovery for v1 ConfigMaps, and `answer` for everything else. */
async function apiServer(
  answer: (req: Seen, res: import("node:http").ServerResponse) => void,
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString("utf8");
    });
    req.on("end", () => {
      const r = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
      seen.push(r);
      if (r.url === "/api/v1") {
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            kind: "APIResourceList",
            groupVersion: "v1",
            resources: [{ name: "configmaps", namespaced: true, kind: "ConfigMap", verbs: ["get", "patch"] }],
          }),
        );
        return;
      }
      answer(r, res);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function apiFor(server: string) {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server, skipTLSVerify: true }],
    users: [{ name: "u", token: "the-bearer-token" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return makeObjectApi(kc, { connectMs: 2_000, readMs: 2_000, requestMs: 2_000 });
}

const configMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "app", namespace: "default" } };

describe("the HTTP path to the API server", () => {
  it("sends method, path, token and body, and reads a gzip answer", async () => {
    const live = { ...configMap, data: { big: "x".repeat(10_000) } };
    const { url, seen } = await apiServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.setHeader("content-encoding", "gzip");
      res.end(gzipSync(JSON.stringify(live)));
    });
    const api = apiFor(url);
    const applied = await api.patch(
      { ...configMap, data: { a: "1" } },
      undefined,
      "All",
      "gitops-bot",
      true,
      "application/apply-patch+yaml",
    );
    expect(applied).toEqual(live);
    const patch = seen.find((s) => s.method === "PATCH");
    expect(patch?.url).toBe(
      "/api/v1/namespaces/default/configmaps/app?dryRun=All&fieldManager=gitops-bot&force=true",
    );
    expect(patch?.headers.authorization).toBe("Bearer the-bearer-token");
    expect(patch?.headers["content-type"]).toBe("application/apply-patch+yaml");
    expect(patch?.headers["accept-encoding"]).toMatch(/gzip/);
    expect(JSON.parse(patch?.body ?? "{}")).toEqual({ ...configMap, data: { a: "1" } });
  });

  it("never follows a redirect: the token stays with the API server", async () => {
    const elsewhere = await apiServer((_req, res) => res.end("{}"));
    const { url } = await apiServer((_req, res) => {
      res.statusCode = 302;
      res.setHeader("location", `${elsewhere.url}/api/v1/namespaces/default/configmaps/app`);
      res.end();
    });
    await expect(apiFor(url).read(configMap)).rejects.toMatchObject({ code: 302 });
    expect(elsewhere.seen).toEqual([]);
  });

  it("says which request failed and why when nothing answers", async () => {
    const { url } = await apiServer((_req, res) => res.end());
    const closed = servers.pop() as Server;
    await new Promise((resolve) => closed.close(resolve));
    await expect(apiFor(url).read(configMap)).rejects.toThrow(
      new RegExp(`request to ${url}/api/v1 failed, reason: connect ECONNREFUSED`),
    );
  });

  it("an answer cut off half-way fails the request instead of returning part of it", async () => {
    const { url } = await apiServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.setHeader("content-length", "1000");
      res.write('{"apiVersion":"v1","kind":"ConfigMap",');
      setTimeout(() => res.socket?.destroy(), 50);
    });
    await expect(apiFor(url).read(configMap)).rejects.toThrow(
      /failed, reason: the connection closed before the answer was complete/,
    );
  });

  it("a GET whose connection dropped mid-answer is sent again", async () => {
    let gets = 0;
    const { url } = await apiServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      if (++gets === 1) {
        res.setHeader("content-length", "1000");
        res.write("{");
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      res.end(JSON.stringify({ ...configMap, data: { a: "1" } }));
    });
    expect(await getLive(apiFor(url), configMap)).toEqual({ ...configMap, data: { a: "1" } });
    expect(gets).toBe(2);
  });
});
