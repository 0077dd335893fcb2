// Attacks on the outbound boundary through `gitops-bot images scan` (the CLI a user runs on a checkout, the same
// scan the app runs): repository content names registries, and registries answer with realms, redirects, `Link`
// pages and bodies of their choosing. The pull secret (from the docker config, matched by registry host) must
// reach the registry's own host only; link-local and metadata addresses are never reached; every attack ends
// within its bound with an error naming the ImageRepository.

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { main } from "../../src/cli/main.js";
import {
  paginatingRegistryBinary,
  pushImage,
  type RunningRegistry,
  startRegistry,
} from "../support/registry.js";
import { type RunningTokenServer, startTokenServer } from "../support/registry-token-server.js";

const canary = { username: "robot", password: "canary-pull-secret-5d1e9b" };
const canaryBase64 = Buffer.from(`${canary.username}:${canary.password}`).toString("base64");
const canaryForms = [canary.password, canaryBase64, Buffer.from(canary.password).toString("base64")];

interface Seen {
  path: string;
  headers: IncomingMessage["headers"];
}

interface Listening {
  origin: string;
  host: string;
  seen: Seen[];
  server: Server;
}

const servers: Server[] = [];

async function listen(
  address: string,
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<Listening> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    seen.push({ path: request.url ?? "", headers: request.headers });
    handler(request, response);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const host = `${address}:${(server.address() as AddressInfo).port}`;
  return { origin: `http://${host}`, host, seen, server };
}

/** Nothing of the canary in any header the attacker received. */
function expectNoCanary(seen: Seen[]): void {
  const everything = JSON.stringify(seen);
  for (const form of canaryForms) expect(everything).not.toContain(form);
  for (const request of seen) expect(request.headers.authorization).toBeUndefined();
}

function expectNoCanaryIn(text: string): void {
  for (const form of canaryForms) expect(text).not.toContain(form);
}

let workspace: string;
beforeAll(async () => {
  workspace = await mkdtemp(join(tmpdir(), "gitops-bot-security-outbound-"));
});
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  await rm(workspace, { recursive: true, force: true });
});

/** A checkout with one ImageRepository + ImagePolicy, and a docker config holding the canary for `registry`. */
async function checkout(name: string, image: string, registry: string, extra = ""): Promise<string[]> {
  const dir = join(workspace, name);
  await mkdir(join(dir, ".git"), { recursive: true });
  await mkdir(join(dir, "clusters/dev"), { recursive: true });
  await writeFile(
    join(dir, "clusters/dev/images.yaml"),
    `apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata:
  name: app
  namespace: flux-system
spec:
  image: ${JSON.stringify(image)}
  interval: 5m
  secretRef:
    name: regcred
${extra}---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: app
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: app
  policy:
    semver:
      range: ">=0.0.0"
`,
  );
  const dockerConfig = join(dir, "docker-config.json");
  await writeFile(dockerConfig, JSON.stringify({ auths: { [registry]: { auth: canaryBase64 } } }));
  return ["images", "scan", join(dir, "clusters/dev"), "--docker-config", dockerConfig];
}

async function scan(args: string[]): Promise<{ code: number; out: string; err: string; ms: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const started = Date.now();
  const code = await main(args, {
    out: { write: (t: string) => out.push(t) },
    err: { write: (t: string) => err.push(t) },
  });
  return { code, out: out.join(""), err: err.join(""), ms: Date.now() - started };
}

describe("credentials only reach the registry's own host", () => {
  let tokens: RunningTokenServer;
  let registry: RunningRegistry;
  let attacker: Listening;
  const repository = `realm/app-${Math.random().toString(36).slice(2, 8)}`;
  beforeAll(async () => {
    tokens = await startTokenServer();
    // The realm a (compromised) registry names: another host, which answers like a public token service.
    attacker = await listen("127.0.0.2", (_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ token: tokens.mint(repository, ["pull"]), expires_in: 300 }));
    });
    registry = await startRegistry({
      binary: paginatingRegistryBinary(),
      storage: "inmemory",
      token: { ...tokens, realm: `${attacker.origin}/token` },
    });
    await pushImage(registry.url, repository, "1.2.3", {
      bearerToken: tokens.mint(repository, ["pull", "push"]),
    });
  });
  afterAll(async () => {
    await registry?.stop();
    await tokens?.stop();
  });

  test("a token realm on another host is asked anonymously: the canary never reaches it", async () => {
    const result = await scan(await checkout("realm", `${registry.host}/${repository}`, registry.host));
    expect(result.err).toBe("");
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/flux-system\/app\s+\S+\s+1\.2\.3/);
    expect(attacker.seen.map((s) => new URL(s.path, "http://x").pathname)).toEqual(["/token"]);
    expectNoCanary(attacker.seen);
    expectNoCanaryIn(result.out + result.err);
  });

  test("a redirect to another host drops the credentials; a Link page there is refused", async () => {
    const thief = await listen("127.0.0.2", (_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ name: "x", tags: ["6.6.6"] }));
    });
    const hostile = await listen("127.0.0.1", (request, response) => {
      if (request.headers.authorization !== `Basic ${canaryBase64}`) {
        response.writeHead(401, { "www-authenticate": 'Basic realm="registry"' }).end();
      } else if (request.url?.startsWith("/v2/link/")) {
        response.writeHead(200, {
          "content-type": "application/json",
          link: `<${thief.origin}/v2/link/app/tags/list?last=1.0.0>; rel="next"`,
        });
        response.end(JSON.stringify({ name: "link/app", tags: ["1.0.0"] }));
      } else {
        response.writeHead(307, { location: `${thief.origin}/v2/redirect/app/tags/list` }).end();
      }
    });

    const redirected = await scan(await checkout("redirect", `${hostile.host}/redirect/app`, hostile.host));
    expect(redirected.code).toBe(0);
    expect(redirected.out).toMatch(/flux-system\/app\s+\S+\s+6\.6\.6/);
    expect(thief.seen).toHaveLength(1);
    expectNoCanary(thief.seen);

    const linked = await scan(await checkout("link", `${hostile.host}/link/app`, hostile.host));
    expect(linked.code).toBe(1);
    expect(linked.out).toContain(
      `✗ ImageRepository flux-system/app: ${hostile.host}/link/app: list tags: the registry's next page is on another host (${thief.origin}); refused`,
    );
    expect(thief.seen).toHaveLength(1);
    expectNoCanaryIn(redirected.out + redirected.err + linked.out + linked.err);
  });
});

describe("link-local and metadata addresses are never reached", () => {
  test("an ImageRepository on 169.254.169.254 is refused at once", async () => {
    const result = await scan(
      await checkout("metadata", "169.254.169.254/latest/meta-data", "169.254.169.254"),
    );
    expect(result.code).toBe(1);
    expect(result.out).toContain(
      "✗ ImageRepository flux-system/app: 169.254.169.254/latest/meta-data: GET https://169.254.169.254/v2/latest/meta-data/tags/list: refused by the outbound policy: 169.254.169.254 is a link-local (cloud metadata) address",
    );
    expect(result.ms).toBeLessThan(2000);
  });

  test("a registry redirecting to the metadata address is refused at the redirect", async () => {
    const hostile = await listen("127.0.0.1", (_request, response) => {
      response.writeHead(302, {
        location: "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
      });
      response.end();
    });
    const result = await scan(await checkout("metadata-redirect", `${hostile.host}/app`, hostile.host));
    expect(result.code).toBe(1);
    expect(result.out).toContain(
      `(redirected to GET http://169.254.169.254/latest/meta-data/iam/security-credentials/): refused by the outbound policy: 169.254.169.254 is a link-local (cloud metadata) address`,
    );
    expect(hostile.seen).toHaveLength(1);
    expect(result.ms).toBeLessThan(2000);
  });

  test("an IPv4-mapped IPv6 spelling of the metadata address is refused too", async () => {
    const result = await scan(
      await checkout("metadata-v6", "[::ffff:169.254.169.254]:80/latest", "[::ffff:169.254.169.254]:80"),
    );
    expect(result.out + result.err).toContain("169.254.169.254 is a link-local (cloud metadata) address");
    expect(result.ms).toBeLessThan(2000);
  });
});

describe("hostile registries end within their bounds", () => {
  test("a registry that never answers ends at the ImageRepository's spec.timeout", async () => {
    const tarpit = await listen("127.0.0.1", () => {
      // accept, never answer
    });
    const result = await scan(await checkout("tarpit", `${tarpit.host}/app`, tarpit.host, "  timeout: 2s\n"));
    expect(result.code).toBe(1);
    expect(result.out).toContain(
      `✗ ImageRepository flux-system/app: ${tarpit.host}/app: listing tags did not finish within 2000 ms`,
    );
    expect(result.ms).toBeLessThan(6000);
  });

  test("an endless tag list is cut off at the byte cap while streaming", async () => {
    const endless = await listen("127.0.0.1", (_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.write('{"name":"app","tags":[');
      const chunk = '"1.0.0",'.repeat(8192);
      const pump = () => {
        while (!response.destroyed && response.write(chunk)) {}
        if (!response.destroyed) response.once("drain", pump);
      };
      pump();
    });
    const before = process.memoryUsage().rss;
    const result = await scan(
      await checkout("endless", `${endless.host}/app`, endless.host, "  timeout: 20s\n"),
    );
    expect(result.code).toBe(1);
    expect(result.out).toContain("the answer is larger than the 16777216-byte limit");
    expect(result.ms).toBeLessThan(15_000);
    // Cut off while streaming: the process did not grow by anything like an unbounded body.
    expect(process.memoryUsage().rss - before).toBeLessThan(512 * 1024 * 1024);
  });
});
