// The registry client against real registries: the harness's docker-registry (anonymous), distribution v3
// for tag pagination, htpasswd basic auth and a real token server for the Bearer challenge flow.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { RegistryClient, RegistryError } from "../../src/images/registry/client.js";
import { parseImageReference } from "../../src/images/registry/reference.js";
import {
  listTags,
  paginatingRegistryBinary,
  pushImage,
  pushImageTags,
  type RunningRegistry,
  startRegistry,
} from "../support/registry.js";
import { type RunningTokenServer, startTokenServer } from "../support/registry-token-server.js";

const fastRetries = { retries: 2, retryBaseMs: 5 };
const tagsFor = (count: number, prefix = "1.0.") => Array.from({ length: count }, (_, i) => `${prefix}${i}`);
const unique = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`;

describe("image references", () => {
  test.each([
    ["nginx", "index.docker.io", "library/nginx", "https://registry-1.docker.io"],
    ["docker.io/nginx", "index.docker.io", "library/nginx", "https://registry-1.docker.io"],
    ["fluxcd/flux", "index.docker.io", "fluxcd/flux", "https://registry-1.docker.io"],
    ["index.docker.io/library/redis", "index.docker.io", "library/redis", "https://registry-1.docker.io"],
    ["ghcr.io/stefanprodan/podinfo", "ghcr.io", "stefanprodan/podinfo", "https://ghcr.io"],
    ["localhost:5000/app", "localhost:5000", "app", "http://localhost:5000"],
    ["127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app", "http://127.0.0.1:5000"],
    ["registry.example.com/a/b/c", "registry.example.com", "a/b/c", "https://registry.example.com"],
  ])("%s → %s / %s at %s", (image, registry, repository, apiBaseUrl) => {
    expect(parseImageReference(image)).toEqual({ image, registry, repository, apiBaseUrl });
  });

  test("insecure: true talks plain HTTP", () => {
    expect(parseImageReference("registry.lan/app", { insecure: true }).apiBaseUrl).toBe(
      "http://registry.lan",
    );
  });

  test.each([
    ["nginx:1.25", "must not contain a tag"],
    ["ghcr.io/org/app@sha256:abc", "must not contain a digest"],
    ["ghcr.io/Org/app", 'repository component "Org" must be lowercase'],
    ["", "must be a non-empty name"],
  ])("rejects %j", (image, message) => {
    expect(() => parseImageReference(image)).toThrow(message);
  });
});

describe("anonymous scan of the harness registry", () => {
  test("lists exactly the tags pushed", async () => {
    const host = inject("registryHost");
    const repository = unique("anonymous/app");
    const pushed = ["1.0.0", "1.1.0", "2.0.0-rc.1", "latest", "sha256-abc.sig"];
    await pushImageTags(`http://${host}`, repository, pushed);

    const listing = await new RegistryClient(fastRetries).listTags(
      parseImageReference(`${host}/${repository}`),
    );

    expect(listing.tags.sort()).toEqual([...pushed].sort());
    expect(listing.pages).toBe(1);
  });

  test("a missing repository is a clear error", async () => {
    const host = inject("registryHost");
    const error = await new RegistryClient(fastRetries)
      .listTags(parseImageReference(`${host}/does-not/exist`))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).message).toMatch(
      new RegExp(`^${host}/does-not/exist: list tags: HTTP 404 \\(no such repository\\): NAME_UNKNOWN`),
    );
  });
});

describe("tag pagination on distribution v3", () => {
  let registry: RunningRegistry;
  const repository = "paged/app";
  const pushed = tagsFor(230);
  beforeAll(async () => {
    registry = await startRegistry({ binary: paginatingRegistryBinary(), storage: "inmemory" });
    await pushImageTags(registry.url, repository, pushed, { concurrency: 16 });
  });
  afterAll(() => registry?.stop());

  test("the registry really paginates (precondition)", async () => {
    const page = await listTags(registry.url, repository, { n: 50 });
    expect(page.tags).toHaveLength(50);
    expect(page.link).toMatch(/rel="next"/);
  });

  test("follows Link headers over several pages and returns every tag once", async () => {
    const listing = await new RegistryClient({ ...fastRetries, pageSize: 50 }).listTags(
      parseImageReference(`${registry.host}/${repository}`),
    );
    expect(listing.pages).toBe(5);
    expect(listing.tags).toHaveLength(230);
    expect(new Set(listing.tags)).toEqual(new Set(pushed));
  });

  test("stops at the page cap with a message that says what to do", async () => {
    const client = new RegistryClient({ ...fastRetries, pageSize: 50, maxPages: 2 });
    await expect(client.listTags(parseImageReference(`${registry.host}/${repository}`))).rejects.toThrow(
      `${registry.host}/${repository}: more than 2 pages of tags (100 tags so far); stopped there. ` +
        "Raise the page cap or ask the registry for larger pages.",
    );
  });
});

describe("basic auth (htpasswd)", () => {
  let registry: RunningRegistry;
  const credentials = { user: "scanner", password: "s3cret-basic-pass" };
  const repository = "private/app";
  beforeAll(async () => {
    registry = await startRegistry({
      binary: paginatingRegistryBinary(),
      storage: "inmemory",
      htpasswd: credentials,
    });
    await pushImageTags(registry.url, repository, tagsFor(120), { auth: credentials });
  });
  afterAll(() => registry?.stop());

  test("lists tags over several pages with the secret's credentials", async () => {
    const listing = await new RegistryClient({ ...fastRetries, pageSize: 50 }).listTags(
      parseImageReference(`${registry.host}/${repository}`),
      { username: credentials.user, password: credentials.password },
    );
    expect(listing.tags).toHaveLength(120);
    expect(listing.pages).toBe(3);
  });

  test("without credentials: a clear error", async () => {
    await expect(
      new RegistryClient(fastRetries).listTags(parseImageReference(`${registry.host}/${repository}`)),
    ).rejects.toThrow(`${registry.host}/${repository}: the registry requires credentials (Basic)`);
  });

  test("with a wrong password: an error that does not contain the password", async () => {
    const wrong = { username: credentials.user, password: "wrong-password-xyz" };
    const error = (await new RegistryClient(fastRetries)
      .listTags(parseImageReference(`${registry.host}/${repository}`), wrong)
      .catch((e: unknown) => e)) as Error;
    expect(error.message).toContain("HTTP 401 (credentials missing or not allowed to pull)");
    expect(error.message).not.toContain(wrong.password);
    expect(JSON.stringify(error)).not.toContain(wrong.password);
  });
});

describe("bearer token flow (WWW-Authenticate challenge, real token server)", () => {
  let publicTokens: RunningTokenServer;
  let privateTokens: RunningTokenServer;
  let publicRegistry: RunningRegistry;
  let privateRegistry: RunningRegistry;
  const credentials = { user: "robot", password: "t0ken-server-pass" };
  const repository = "bearer/app";
  beforeAll(async () => {
    [publicTokens, privateTokens] = await Promise.all([
      startTokenServer(),
      startTokenServer({ credentials }),
    ]);
    const withTokens = (tokens: RunningTokenServer) =>
      startRegistry({ binary: paginatingRegistryBinary(), storage: "inmemory", token: tokens });
    [publicRegistry, privateRegistry] = await Promise.all([
      withTokens(publicTokens),
      withTokens(privateTokens),
    ]);
    await Promise.all([
      pushImageTags(publicRegistry.url, repository, tagsFor(120), {
        bearerToken: publicTokens.mint(repository, ["pull", "push"]),
      }),
      pushImage(privateRegistry.url, repository, "2.0.0", {
        bearerToken: privateTokens.mint(repository, ["pull", "push"]),
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([publicRegistry?.stop(), privateRegistry?.stop()]);
    await Promise.all([publicTokens?.stop(), privateTokens?.stop()]);
  });

  test("gets an anonymous pull token for the challenged scope and reuses it across pages", async () => {
    const before = publicTokens.requests.length;
    const listing = await new RegistryClient({ ...fastRetries, pageSize: 50 }).listTags(
      parseImageReference(`${publicRegistry.host}/${repository}`),
    );
    expect(listing.tags).toHaveLength(120);
    expect(listing.pages).toBe(3);
    expect(publicTokens.requests.slice(before)).toEqual([
      { scope: `repository:${repository}:pull`, service: publicTokens.service, authenticated: false },
    ]);
  });

  test("authenticates to the token server with the secret's credentials", async () => {
    const before = privateTokens.requests.length;
    const listing = await new RegistryClient(fastRetries).listTags(
      parseImageReference(`${privateRegistry.host}/${repository}`),
      { username: credentials.user, password: credentials.password },
    );
    expect(listing.tags).toEqual(["2.0.0"]);
    expect(privateTokens.requests.slice(before).map((r) => r.authenticated)).toEqual([true]);
  });

  test("a token server refusing anonymous access is a clear error", async () => {
    await expect(
      new RegistryClient(fastRetries).listTags(parseImageReference(`${privateRegistry.host}/${repository}`)),
    ).rejects.toThrow(
      new RegExp(
        `^${privateRegistry.host}/${repository}: get a token from http://127\\.0\\.0\\.1:\\d+/token \\(anonymous\\): HTTP 401`,
      ),
    );
  });
});

describe("retries", () => {
  let server: Server;
  let base: string;
  let failures: number[] = [];
  let seen = 0;
  beforeAll(async () => {
    // Transient failures on demand are not something a real registry offers; this server answers the
    // tags/list protocol after the scripted failures.
    server = createServer((_request, response) => {
      seen++;
      const status = failures.shift();
      if (status) {
        response.writeHead(status, status === 429 ? { "retry-after": "0" } : {});
        response.end();
        return;
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ name: "flaky/app", tags: ["1.0.0"] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test("retries 5xx and 429 with backoff, then succeeds", async () => {
    failures = [503, 429];
    seen = 0;
    const listing = await new RegistryClient(fastRetries).listTags(parseImageReference(`${base}/flaky/app`));
    expect(listing.tags).toEqual(["1.0.0"]);
    expect(seen).toBe(3);
  });

  test("gives up after the configured retries with the last status", async () => {
    failures = [502, 502, 502, 502];
    seen = 0;
    await expect(
      new RegistryClient(fastRetries).listTags(parseImageReference(`${base}/flaky/app`)),
    ).rejects.toThrow(`${base}/flaky/app: list tags: HTTP 502`);
    expect(seen).toBe(3);
  });

  test("network errors are retried and then reported", async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const closed = `127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await expect(
      new RegistryClient(fastRetries).listTags(parseImageReference(`${closed}/x`)),
    ).rejects.toThrow(
      `${closed}/x: GET http://${closed}/v2/x/tags/list failed after 3 attempts: ECONNREFUSED`,
    );
  });
});

/** A loopback server on another host (127.0.0.2) that records every request's Authorization header. */
async function startRecorder(
  handler: (url: URL, response: import("node:http").ServerResponse) => void,
): Promise<{ origin: string; seen: { path: string; authorization?: string }[]; stop: () => Promise<void> }> {
  const seen: { path: string; authorization?: string }[] = [];
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://recorder");
    seen.push({ path: url.pathname, authorization: request.headers.authorization });
    handler(url, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.2", resolve));
  return {
    origin: `http://127.0.0.2:${(server.address() as AddressInfo).port}`,
    seen,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const canary = { username: "robot", password: "canary-registry-password-7f3a" };
const canaryBasic = Buffer.from(`${canary.username}:${canary.password}`).toString("base64");

function expectNoCredentials(seen: { authorization?: string }[]): void {
  for (const request of seen) {
    expect(request.authorization ?? "").not.toContain(canary.password);
    expect(request.authorization ?? "").not.toContain(canaryBasic);
    expect(request.authorization).toBeUndefined();
  }
}

describe("credentials stay with the registry's host", () => {
  test("a token realm on another host is asked anonymously: the pull secret never reaches it", async () => {
    const tokens = await startTokenServer();
    const repository = unique("realm/app");
    // The attacker's realm answers like a public token service (a real anonymous pull token), and records.
    const attacker = await startRecorder((url, response) => {
      const token = tokens.mint(repository, ["pull"]);
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ token, expires_in: 300, scope: url.searchParams.get("scope") }));
    });
    const registry = await startRegistry({
      binary: paginatingRegistryBinary(),
      storage: "inmemory",
      token: { ...tokens, realm: `${attacker.origin}/token` },
    });
    try {
      await pushImage(registry.url, repository, "1.0.0", {
        bearerToken: tokens.mint(repository, ["pull", "push"]),
      });
      const logLines: string[] = [];
      const client = new RegistryClient({
        ...fastRetries,
        logger: pino({ level: "debug" }, { write: (line: string) => logLines.push(line) }),
      });
      const listing = await client.listTags(parseImageReference(`${registry.host}/${repository}`), canary);
      expect(listing.tags).toEqual(["1.0.0"]);
      expect(attacker.seen.map((s) => s.path)).toEqual(["/token"]);
      expectNoCredentials(attacker.seen);
      expect(logLines.join("")).toContain(
        "token realm is not on the registry's host; asking it anonymously, without the credentials",
      );
      expect(logLines.join("")).not.toContain(canary.password);
    } finally {
      await registry.stop();
      await attacker.stop();
      await tokens.stop();
    }
  });

  test("a private registry whose realm is on another host fails clearly, saying why no credentials went", async () => {
    const attacker = await startRecorder((_url, response) => {
      response.writeHead(401, { "content-type": "application/json" });
      response.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "send me your password" }] }));
    });
    // A hostile registry on 127.0.0.1 that only ever challenges, naming a realm on another host.
    const hostile = createServer((_request, response) => {
      response.writeHead(401, {
        "www-authenticate": `Bearer realm="${attacker.origin}/token",service="registry",scope="repository:x/app:pull"`,
      });
      response.end();
    });
    await new Promise<void>((resolve) => hostile.listen(0, "127.0.0.1", resolve));
    const host = `127.0.0.1:${(hostile.address() as AddressInfo).port}`;
    try {
      await expect(
        new RegistryClient(fastRetries).listTags(parseImageReference(`${host}/x/app`), canary),
      ).rejects.toThrow(
        `${host}/x/app: get a token from ${attacker.origin}/token (anonymous: the credentials are only sent to ${host}, not to a realm on another host): HTTP 401`,
      );
      expectNoCredentials(attacker.seen);
    } finally {
      hostile.close();
      await attacker.stop();
    }
  });

  test("a Link next page on another host is refused; a redirect to another host gets no credentials", async () => {
    const attacker = await startRecorder((_url, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ name: "x/app", tags: ["9.9.9-stolen"] }));
    });
    const expected = `Basic ${canaryBasic}`;
    const hostile = createServer((request, response) => {
      if (request.headers.authorization !== expected) {
        response.writeHead(401, { "www-authenticate": 'Basic realm="registry"' });
        response.end();
      } else if (request.url?.startsWith("/v2/link/")) {
        response.writeHead(200, {
          "content-type": "application/json",
          link: `<${attacker.origin}/v2/link/app/tags/list?last=1.0.0>; rel="next"`,
        });
        response.end(JSON.stringify({ name: "link/app", tags: ["1.0.0"] }));
      } else {
        response.writeHead(307, { location: `${attacker.origin}/v2/redirect/app/tags/list` });
        response.end();
      }
    });
    await new Promise<void>((resolve) => hostile.listen(0, "127.0.0.1", resolve));
    const host = `127.0.0.1:${(hostile.address() as AddressInfo).port}`;
    try {
      await expect(
        new RegistryClient(fastRetries).listTags(parseImageReference(`${host}/link/app`), canary),
      ).rejects.toThrow(
        `${host}/link/app: list tags: the registry's next page is on another host (${attacker.origin}); refused`,
      );
      expect(attacker.seen).toEqual([]);

      const redirected = await new RegistryClient(fastRetries).listTags(
        parseImageReference(`${host}/redirect/app`),
        canary,
      );
      expect(redirected.tags).toEqual(["9.9.9-stolen"]);
      expect(attacker.seen.map((s) => s.path)).toEqual(["/v2/redirect/app/tags/list"]);
      expectNoCredentials(attacker.seen);
    } finally {
      hostile.close();
      await attacker.stop();
    }
  });
});

describe("bounded scans", () => {
  test("stops past the tag cap on a real paginating registry", async () => {
    const registry = await startRegistry({ binary: paginatingRegistryBinary(), storage: "inmemory" });
    try {
      await pushImageTags(registry.url, "many/app", tagsFor(120), { concurrency: 16 });
      const client = new RegistryClient({ ...fastRetries, pageSize: 50, maxTags: 80 });
      await expect(client.listTags(parseImageReference(`${registry.host}/many/app`))).rejects.toThrow(
        `${registry.host}/many/app: more than 80 tags (after 2 pages); stopped there.`,
      );
    } finally {
      await registry.stop();
    }
  });

  test("an endless tag list is cut off at the byte cap, a silent registry at the timeout", async () => {
    const hostile = createServer((request, response) => {
      if (request.url?.startsWith("/v2/silent/")) return;
      response.writeHead(200, { "content-type": "application/json" });
      response.write('{"name":"endless/app","tags":[');
      const pump = () => {
        while (!response.destroyed && response.write('"1.0.0",'.repeat(1000))) {}
        if (!response.destroyed) response.once("drain", pump);
      };
      pump();
    });
    await new Promise<void>((resolve) => hostile.listen(0, "127.0.0.1", resolve));
    const host = `127.0.0.1:${(hostile.address() as AddressInfo).port}`;
    try {
      const started = Date.now();
      const client = new RegistryClient({ ...fastRetries, maxResponseBytes: 1024 * 1024, timeoutMs: 500 });
      await expect(client.listTags(parseImageReference(`${host}/endless/app`))).rejects.toThrow(
        `${host}/endless/app: list tags: GET http://${host}/v2/endless/app/tags/list: the answer is larger than the 1048576-byte limit`,
      );
      await expect(client.listTags(parseImageReference(`${host}/silent/app`))).rejects.toThrow(
        `${host}/silent/app: GET http://${host}/v2/silent/app/tags/list failed after 3 attempts: timed out`,
      );
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      hostile.closeAllConnections();
      hostile.close();
    }
  });

  test("a registry on the metadata address is refused by the outbound policy, not retried", async () => {
    const started = Date.now();
    await expect(
      new RegistryClient(fastRetries).listTags(parseImageReference("169.254.169.254/latest/app")),
    ).rejects.toThrow(
      "169.254.169.254/latest/app: GET https://169.254.169.254/v2/latest/app/tags/list: refused by the outbound policy: 169.254.169.254 is a link-local (cloud metadata) address",
    );
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
