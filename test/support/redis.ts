// A real redis-server (Debian's package) for the tests of the Redis-backed queue, delivery log and timers:
// its own port, its own temporary directory, no persistence, killed after.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort, type ManagedProcess, startProcess, waitFor } from "./processes.js";

export interface RedisServer {
  url: string;
  port: number;
  /** A new client (BullMQ-ready: no retry limit); closed by `stop`. */
  client(): Redis;
  /** Deletes every key (between tests). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export function redisServerBinary(): string {
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim();
  if (!found)
    throw new Error("redis-server is not installed (Debian package redis-server; .ci/run installs it)");
  return found;
}

export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-redis-"));
  const port = await freePort();
  const server: ManagedProcess = startProcess(
    "redis",
    redisServerBinary(),
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"],
    { logDir: dir, cwd: dir },
  );
  const clients: Redis[] = [];
  const client = () => {
    const c = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: null, lazyConnect: false });
    c.on("error", () => undefined);
    clients.push(c);
    return c;
  };
  const probe = client();
  await waitFor("redis-server to answer PING", async () => (await probe.ping()) === "PONG", {
    timeoutMs: 10_000,
    process: server,
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    client,
    flush: async () => void (await probe.flushall()),
    stop: async () => {
      await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
