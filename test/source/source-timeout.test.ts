// A source's spec.timeout is capped by the operator (security.maxSourceTimeout → SourceResolver maxTimeoutMs):
// a repository asking for an hour against a server that never answers still ends at the cap.
import { mkdtempSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GitRepositorySource, type OCIRepositorySource, parseSource } from "../../src/flux/sources.js";
import { noSecrets } from "../../src/source/credentials.js";
import { SourceResolver } from "../../src/source/resolver.js";

let host = "";
const sockets = new Set<Socket>();
const server = createServer((socket) => {
  sockets.add(socket);
  socket.on("error", () => {});
});
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function resolver(maxTimeoutMs?: number): SourceResolver {
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-timeout-"));
  return new SourceResolver({
    selfSourceNames: ["flux-system"],
    selfDir: dir,
    cacheDir: join(dir, "cache"),
    secrets: noSecrets,
    ...(maxTimeoutMs === undefined ? {} : { maxTimeoutMs }),
  });
}

const object = (kind: string, spec: Record<string, unknown>): KubernetesObject =>
  ({
    apiVersion: "source.toolkit.fluxcd.io/v1",
    kind,
    metadata: { name: "slow", namespace: "flux-system" },
    spec,
  }) as KubernetesObject;

describe("source timeouts", () => {
  it.each([
    ["GitRepository", () => ({ url: `http://${host}/repo`, ref: { branch: "main" } }), "fetching http://"],
    ["OCIRepository", () => ({ url: `oci://${host}/app`, insecure: true }), "127.0.0.1:"],
  ])("%s with spec.timeout 1h ends at the operator's cap", async (kind, spec, what) => {
    const source = parseSource(object(kind, { interval: "5m", timeout: "1h", ...spec() }), "sources.yaml") as
      | GitRepositorySource
      | OCIRepositorySource;
    expect(source.timeoutMs).toBe(3_600_000);
    const started = Date.now();
    const error = await resolver(2000)
      .artifact(source)
      .then(
        () => undefined,
        (err: Error) => err,
      );
    const elapsed = Date.now() - started;
    expect(error?.message).toMatch(new RegExp(`^${kind}/flux-system/slow: ${what}.*timed out after 2 s$`));
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(10_000);
  });

  it("keeps a shorter spec.timeout, and defaults the cap to 5 minutes", async () => {
    const source = parseSource(
      object("GitRepository", { interval: "5m", timeout: "1s", url: `http://${host}/repo` }),
      "sources.yaml",
    ) as GitRepositorySource;
    const error = await resolver()
      .artifact(source)
      .then(
        () => undefined,
        (err: Error) => err,
      );
    expect(error?.message).toBe(
      `GitRepository/flux-system/slow: fetching http://${host}/repo: timed out after 1 s`,
    );
  });
});
