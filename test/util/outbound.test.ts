import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  createOutboundPolicy,
  OutboundPolicyError,
  OutboundRequestError,
  outboundFetch,
  outboundListEntryError,
  parseCidr,
  parseIp,
} from "../../src/util/outbound/index.js";

interface Recorded {
  url: string;
  method: string;
  authorization?: string;
  cookie?: string;
}

const servers: http.Server[] = [];

async function serve(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  host = "127.0.0.1",
): Promise<{ origin: string; port: number; seen: Recorded[] }> {
  const seen: Recorded[] = [];
  const server = http.createServer((req, res) => {
    seen.push({
      url: req.url ?? "",
      method: req.method ?? "",
      authorization: req.headers.authorization,
      cookie: req.headers.cookie,
    });
    handler(req, res);
  });
  servers.push(server);
  server.listen(0, host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return { origin: `http://${host}:${port}`, port, seen };
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

const open = createOutboundPolicy();
const bounds = { timeoutMs: 5000, maxBytes: 1 << 20 };

describe("outbound policy", () => {
  it.each([
    ["169.254.169.254", "169.254.169.254 is a link-local (cloud metadata) address"],
    ["169.254.170.2", "169.254.170.2 is a link-local (cloud metadata) address"],
    ["fe80::1", "fe80::1 is a link-local (cloud metadata) address"],
    ["::ffff:169.254.169.254", "169.254.169.254 is a link-local (cloud metadata) address"],
    ["::ffff:a9fe:a9fe", "169.254.169.254 is a link-local (cloud metadata) address"],
    ["64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe is a link-local (cloud metadata) address"],
    ["fd00:ec2::254", "fd00:ec2::254 is a cloud metadata address"],
  ])("refuses %s by default", (address, reason) => {
    expect(() => open.checkAddresses(address, [address])).toThrow(OutboundPolicyError);
    expect(() => open.checkAddresses(address, [address])).toThrow(
      `refused by the outbound policy: ${reason}`,
    );
  });

  it("refuses a name that resolves to a metadata address, naming both", () => {
    expect(() => open.checkAddresses("metadata.example.test", ["10.0.0.1", "169.254.169.254"])).toThrow(
      "refused by the outbound policy: metadata.example.test resolves to 169.254.169.254, which is a link-local (cloud metadata) address",
    );
  });

  it("lets the operator allow link-local addresses explicitly", () => {
    const policy = createOutboundPolicy({ allowLinkLocal: true });
    expect(policy.checkAddresses("169.254.169.254", ["169.254.169.254"]).addresses[0]?.text).toBe(
      "169.254.169.254",
    );
    expect(policy.checkAddresses("fd00:ec2::254", ["fd00:ec2::254"]).host).toBe("fd00:ec2::254");
  });

  it("allows loopback and ordinary addresses by default", () => {
    expect(open.checkAddresses("localhost", ["127.0.0.1", "::1"]).addresses).toHaveLength(2);
    expect(open.checkAddresses("registry.example.test", ["203.0.113.7"]).host).toBe("registry.example.test");
  });

  it("denies by CIDR and by host, whatever the allow list says", () => {
    const policy = createOutboundPolicy({
      allow: ["*.example.test", "10.0.0.0/8"],
      deny: ["10.1.0.0/16", "secret.example.test", "*.internal.example.test", "fd00::/8"],
    });
    expect(() => policy.checkAddresses("a.example.test", ["10.1.2.3"])).toThrow(
      "a.example.test resolves to 10.1.2.3, which is denied (security.outbound.deny: 10.1.0.0/16)",
    );
    expect(() => policy.checkAddresses("secret.example.test", ["10.2.0.1"])).toThrow(
      "secret.example.test is denied (security.outbound.deny: secret.example.test)",
    );
    expect(() => policy.checkAddresses("db.internal.example.test", ["10.2.0.1"])).toThrow("is denied");
    expect(() => policy.checkAddresses("fd12::1", ["fd12::1"])).toThrow("fd12::1 is denied");
    expect(policy.checkAddresses("a.example.test", ["10.2.0.1"]).host).toBe("a.example.test");
  });

  it("with an allow list, reaches only allowed hosts or addresses in allowed networks", () => {
    const policy = createOutboundPolicy({ allow: ["registry.example.test", "10.0.0.0/8"] });
    expect(policy.checkAddresses("registry.example.test", ["203.0.113.1"]).host).toBe(
      "registry.example.test",
    );
    expect(policy.checkAddresses("other.example.test", ["10.9.9.9"]).host).toBe("other.example.test");
    expect(() => policy.checkAddresses("other.example.test", ["10.9.9.9", "203.0.113.1"])).toThrow(
      "other.example.test is not in security.outbound.allow (nor is its address 203.0.113.1)",
    );
    expect(() => policy.checkAddresses("127.0.0.1", ["127.0.0.1"])).toThrow(
      "refused by the outbound policy: 127.0.0.1 is not in security.outbound.allow",
    );
    // `*.x` names subdomains, not x itself; the allow list never lifts the link-local refusal.
    const wildcard = createOutboundPolicy({ allow: ["*.example.test", "169.254.0.0/16"] });
    expect(() => wildcard.checkAddresses("example.test", ["203.0.113.1"])).toThrow(
      "not in security.outbound.allow",
    );
    expect(() => wildcard.checkAddresses("a.example.test", ["169.254.169.254"])).toThrow("link-local");
  });

  it("rejects list entries that are neither host nor CIDR, naming the field", () => {
    expect(() => createOutboundPolicy({ deny: ["http://x/"] })).toThrow(
      'security.outbound.deny: "http://x/" is neither a host',
    );
    expect(outboundListEntryError("10.0.0.0/8")).toBeUndefined();
    expect(outboundListEntryError("*.example.com")).toBeUndefined();
    expect(outboundListEntryError("10.0.0.0/40")).toContain("is neither a host");
  });

  it("judges the name before resolving it, and fails clearly when it cannot be resolved", async () => {
    let lookups = 0;
    const policy = createOutboundPolicy({ deny: ["denied.example.test"] }, async () => {
      lookups++;
      throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
    });
    await expect(policy.check("denied.example.test")).rejects.toThrow("is denied");
    expect(lookups).toBe(0);
    await expect(policy.check("missing.example.test")).rejects.toThrow(
      "cannot resolve missing.example.test (ENOTFOUND)",
    );
  });

  it("parses addresses and ranges", () => {
    expect(parseIp("[::1]")?.text).toBe("::1");
    expect(parseIp("::ffff:127.0.0.1")).toMatchObject({ family: 4, text: "127.0.0.1" });
    expect(parseIp("1.2.3")).toBeUndefined();
    expect(parseCidr("10.0.0.0/33")).toBeUndefined();
    expect(parseCidr("::ffff:0:0/96")).toMatchObject({ family: 4, prefix: 0 });
  });
});

describe("outboundFetch", () => {
  it("refuses a metadata address before connecting, with a clear error", async () => {
    const started = Date.now();
    const error = await outboundFetch("http://169.254.169.254/latest/meta-data/", {
      policy: open,
      ...bounds,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutboundPolicyError);
    expect((error as Error).message).toBe(
      "GET http://169.254.169.254/latest/meta-data/: refused by the outbound policy: 169.254.169.254 is a link-local (cloud metadata) address",
    );
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it.each([
    "http://0xa9fea9fe/",
    "http://2852039166/",
    "http://169.254.43518/",
    "http://[::ffff:169.254.169.254]/",
  ])("refuses %s, another spelling of the metadata address", async (url) => {
    await expect(outboundFetch(url, { policy: open, ...bounds })).rejects.toThrow(
      "refused by the outbound policy: 169.254.169.254 is a link-local (cloud metadata) address",
    );
  });

  it("reads an ordinary answer from a loopback server", async () => {
    const server = await serve((_req, res) => res.end(JSON.stringify({ ok: true })));
    const response = await outboundFetch(`${server.origin}/x?y=1`, { policy: open, ...bounds });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
    expect(server.seen[0]?.url).toBe("/x?y=1");
  });

  it("connects to the address the policy checked: the name is resolved once, by the policy's resolver", async () => {
    const server = await serve((_req, res) => res.end("pinned"));
    let lookups = 0;
    const policy = createOutboundPolicy({}, async () => {
      lookups++;
      return [{ address: "127.0.0.1", family: 4 }];
    });
    // `pinned.invalid` exists in no DNS: the request can only succeed if the connection uses the checked address.
    const response = await outboundFetch(`http://pinned.invalid:${server.port}/`, { policy, ...bounds });
    expect(await response.text()).toBe("pinned");
    expect(lookups).toBe(1);
  });

  it("refuses loopback when the operator denies it, by CIDR and by host", async () => {
    const server = await serve((_req, res) => res.end("reached"));
    const byCidr = createOutboundPolicy({ deny: ["127.0.0.0/8", "::1/128"] });
    await expect(outboundFetch(`${server.origin}/`, { policy: byCidr, ...bounds })).rejects.toThrow(
      "refused by the outbound policy: 127.0.0.1 is denied (security.outbound.deny: 127.0.0.0/8)",
    );
    await expect(
      outboundFetch(`http://localhost:${server.port}/`, { policy: byCidr, ...bounds }),
    ).rejects.toThrow("localhost resolves to");
    const byHost = createOutboundPolicy({ deny: ["localhost"] });
    await expect(
      outboundFetch(`http://localhost:${server.port}/`, { policy: byHost, ...bounds }),
    ).rejects.toThrow(
      "refused by the outbound policy: localhost is denied (security.outbound.deny: localhost)",
    );
    expect(server.seen).toHaveLength(0);
  });

  it("sends credentials to their own host, and none after a redirect to another host", async () => {
    const attacker = await serve((_req, res) => res.end("stolen?"), "127.0.0.2");
    const registry = await serve((req, res) => {
      if (req.url === "/same") {
        res.writeHead(302, { location: "/final" }).end();
      } else if (req.url === "/final") {
        res.end("own host");
      } else {
        res.writeHead(307, { location: `${attacker.origin}/collect` }).end();
      }
    });
    const headers = { authorization: "Bearer canary-token", cookie: "session=canary-cookie" };

    const same = await outboundFetch(`${registry.origin}/same`, { policy: open, headers, ...bounds });
    expect(await same.text()).toBe("own host");
    expect(same.credentialsSent).toBe(true);
    expect(registry.seen.map((s) => s.authorization)).toEqual(["Bearer canary-token", "Bearer canary-token"]);

    const away = await outboundFetch(`${registry.origin}/away`, { policy: open, headers, ...bounds });
    expect(await away.text()).toBe("stolen?");
    expect(away.credentialsSent).toBe(false);
    expect(away.url.origin).toBe(attacker.origin);

    // Basic credentials in the URL are credentials too.
    const userinfo = new URL(`${registry.origin}/away`);
    userinfo.username = "bot";
    userinfo.password = "canary-password";
    const basic = await outboundFetch(userinfo, { policy: open, ...bounds });
    await basic.discard();
    expect(registry.seen.at(-1)?.authorization).toBe(
      `Basic ${Buffer.from("bot:canary-password").toString("base64")}`,
    );

    expect(attacker.seen).toHaveLength(2);
    for (const request of attacker.seen) {
      expect(request.authorization).toBeUndefined();
      expect(request.cookie).toBeUndefined();
    }
  });

  it("re-checks every redirect hop: a redirect to the metadata address is refused", async () => {
    const server = await serve((_req, res) =>
      res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/iam/" }).end(),
    );
    await expect(outboundFetch(`${server.origin}/start`, { policy: open, ...bounds })).rejects.toThrow(
      `GET ${server.origin}/start (redirected to GET http://169.254.169.254/latest/meta-data/iam/): refused by the outbound policy: 169.254.169.254 is a link-local (cloud metadata) address`,
    );
  });

  it("follows a few redirects, not a loop, and only to http(s)", async () => {
    const server = await serve((req, res) => {
      const n = Number(req.url?.slice(1) ?? 0);
      if (req.url === "/file") res.writeHead(302, { location: "file:///etc/passwd" }).end();
      else res.writeHead(302, { location: `/${n + 1}` }).end();
    });
    await expect(
      outboundFetch(`${server.origin}/0`, { policy: open, ...bounds, maxRedirects: 3 }),
    ).rejects.toThrow("more than 3 redirects");
    expect(server.seen).toHaveLength(4);
    await expect(outboundFetch(`${server.origin}/file`, { policy: open, ...bounds })).rejects.toThrow(
      "only http and https are allowed",
    );
    const unfollowed = await outboundFetch(`${server.origin}/0`, {
      policy: open,
      ...bounds,
      maxRedirects: 0,
    });
    expect(unfollowed.status).toBe(302);
    unfollowed.discard();
  });

  it("turns a POST answered 303 into a GET without the body", async () => {
    const bodies: string[] = [];
    const server = await serve((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        bodies.push(body);
        if (req.url === "/post") res.writeHead(303, { location: "/done" }).end();
        else res.end(req.method);
      });
    });
    const response = await outboundFetch(`${server.origin}/post`, {
      policy: open,
      method: "POST",
      body: "payload",
      headers: { "content-type": "text/plain" },
      ...bounds,
    });
    expect(await response.text()).toBe("GET");
    expect(bodies).toEqual(["payload", ""]);
  });

  it("stops reading a body past its cap, declared or streamed", async () => {
    let streamedBytes = 0;
    let clientGone = false;
    const server = await serve((req, res) => {
      if (req.url === "/declared") {
        res.writeHead(200, { "content-length": String(10 * 1024 * 1024 * 1024) });
        res.write("x");
        return;
      }
      // An endless chunked body: it must be cut off, not buffered.
      let closed = false;
      res.on("close", () => {
        closed = true;
        clientGone = true;
      });
      const chunk = Buffer.alloc(64 * 1024, 120);
      const pump = () => {
        while (!closed && res.write(chunk)) streamedBytes += chunk.length;
        if (!closed) res.once("drain", pump);
      };
      pump();
    });
    const declared = await outboundFetch(`${server.origin}/declared`, {
      policy: open,
      timeoutMs: 5000,
      maxBytes: 1024,
    });
    const declaredError = await declared.bytes().catch((e: unknown) => e);
    expect(declaredError).toBeInstanceOf(OutboundRequestError);
    expect((declaredError as OutboundRequestError).failure).toBe("too-large");

    const started = Date.now();
    const streamed = await outboundFetch(`${server.origin}/endless`, {
      policy: open,
      timeoutMs: 10_000,
      maxBytes: 256 * 1024,
    });
    await expect(streamed.text()).rejects.toThrow(
      `GET ${server.origin}/endless: the answer is larger than the 262144-byte limit`,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(clientGone).toBe(true);
    expect(streamedBytes).toBeLessThan(64 * 1024 * 1024);

    const asStream = await outboundFetch(`${server.origin}/endless`, {
      policy: open,
      timeoutMs: 10_000,
      maxBytes: 1000,
    });
    const consume = async () => {
      for await (const _chunk of asStream.stream()) {
        // read until the cap stops it
      }
    };
    await expect(consume()).rejects.toThrow("larger than the 1000-byte limit");
  });

  it("ends a tarpit within the whole-request timeout: no answer, or an answer that trickles", async () => {
    const server = await serve((req, res) => {
      if (req.url === "/silent") return; // never answers
      res.writeHead(200, { "content-type": "text/plain" });
      const timer = setInterval(() => res.write("."), 50);
      res.on("close", () => clearInterval(timer));
    });
    for (const path of ["/silent", "/trickle"]) {
      const started = Date.now();
      const error = await outboundFetch(`${server.origin}${path}`, {
        policy: open,
        timeoutMs: 400,
        maxBytes: 1 << 20,
      })
        .then((response) => response.text())
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OutboundRequestError);
      expect((error as OutboundRequestError).failure).toBe("timeout");
      expect((error as Error).message).toBe(`GET ${server.origin}${path}: no complete answer within 400 ms`);
      expect(Date.now() - started).toBeLessThan(2000);
    }
  });

  it("reports a refused connection as a network error naming the request", async () => {
    const server = await serve((_req, res) => res.end());
    const { port } = server;
    for (const s of servers.splice(0)) s.close();
    await expect(outboundFetch(`http://127.0.0.1:${port}/v2/`, { policy: open, ...bounds })).rejects.toThrow(
      `GET http://127.0.0.1:${port}/v2/: ECONNREFUSED`,
    );
  });
});
