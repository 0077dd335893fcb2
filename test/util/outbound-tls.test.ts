// HTTPS under the outbound policy: the connection goes to the address the policy pinned, while the certificate
// is still checked against the URL's host name (SNI included), so pinning never weakens TLS.
import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOutboundPolicy, OutboundRequestError, outboundFetch } from "../../src/util/outbound/index.js";

const run = promisify(execFile);

describe("outboundFetch over https", () => {
  let dir: string;
  let cert: Buffer;
  let server: https.Server;
  let port: number;
  const seenServernames: (string | false | null)[] = [];
  // Both names resolve to the loopback server; only registry.test is in its certificate.
  const policy = createOutboundPolicy({}, async () => [{ address: "127.0.0.1", family: 4 }]);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gitops-bot-outbound-tls-"));
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-days",
      "1",
      "-subj",
      "/CN=registry.test",
      "-addext",
      "subjectAltName=DNS:registry.test",
    ]);
    cert = await readFile(join(dir, "cert.pem"));
    server = https.createServer({ key: await readFile(join(dir, "key.pem")), cert }, (req, res) => {
      res.end(`tls ok ${req.headers.authorization ?? "-"}`);
    });
    server.on("secureConnection", (socket) => seenServernames.push(socket.servername));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("connects to the pinned address and verifies the certificate for the URL's name", async () => {
    const response = await outboundFetch(`https://registry.test:${port}/v2/`, {
      policy,
      timeoutMs: 5000,
      maxBytes: 1024,
      tls: { ca: cert },
      headers: { authorization: "Bearer t" },
    });
    expect(await response.text()).toBe("tls ok Bearer t");
    expect(seenServernames.at(-1)).toBe("registry.test");
  });

  it("refuses a certificate for another name, and an unknown CA", async () => {
    const wrongName = await outboundFetch(`https://other.test:${port}/`, {
      policy,
      timeoutMs: 5000,
      maxBytes: 1024,
      tls: { ca: cert },
    }).catch((e: unknown) => e);
    expect(wrongName).toBeInstanceOf(OutboundRequestError);
    expect((wrongName as Error).message).toBe(
      `GET https://other.test:${port}/: ERR_TLS_CERT_ALTNAME_INVALID`,
    );

    await expect(
      outboundFetch(`https://registry.test:${port}/`, { policy, timeoutMs: 5000, maxBytes: 1024 }),
    ).rejects.toThrow(`GET https://registry.test:${port}/: DEPTH_ZERO_SELF_SIGNED_CERT`);
  });
});
