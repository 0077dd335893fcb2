// A real token server for distribution's token auth (the flow Docker Hub and GHCR use): the registry answers
// 401 with `WWW-Authenticate: Bearer realm=…,service=…,scope=…`, the client asks this server for a token
// (anonymously, or with Basic credentials), and the registry verifies the RS256 JWT against the certificate in
// its `rootcertbundle`. The key and self-signed certificate come from the `openssl` CLI; node:crypto signs.
import { execFile } from "node:child_process";
import { createPrivateKey, type KeyObject, randomUUID, sign } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BasicCredentials } from "./registry.js";

export interface TokenServerOptions {
  /** When set, only these credentials get tokens; anonymous requests get 401. */
  credentials?: BasicCredentials;
  service?: string;
  issuer?: string;
}

export interface TokenRequestRecord {
  scope: string | null;
  service: string | null;
  /** Whether the request carried Basic credentials (never the credentials themselves). */
  authenticated: boolean;
}

export interface RunningTokenServer {
  /** The realm URL to configure the registry with. */
  realm: string;
  service: string;
  issuer: string;
  /** PEM file holding the signing certificate, for the registry's `rootcertbundle`. */
  rootCertBundle: string;
  readonly requests: readonly TokenRequestRecord[];
  /** A token for `repository:<name>:<actions>`, e.g. to push test images. */
  mint(repository: string, actions: string[]): string;
  stop(): Promise<void>;
}

export async function startTokenServer(opts: TokenServerOptions = {}): Promise<RunningTokenServer> {
  const dir = await mkdtemp(join(tmpdir(), "gitops-bot-token-server-"));
  const keyPath = join(dir, "key.pem");
  const certPath = join(dir, "cert.pem");
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    keyPath,
    "-out",
    certPath,
    "-days",
    "1",
    "-subj",
    "/CN=gitops-bot test token issuer",
  ]);
  const key = createPrivateKey(await readFile(keyPath));
  const certificateDer = pemToDer(await readFile(certPath, "utf8"));
  const service = opts.service ?? "gitops-bot-test-registry";
  const issuer = opts.issuer ?? "gitops-bot-test-issuer";
  const requests: TokenRequestRecord[] = [];

  const mint = (subject: string, access: { type: string; name: string; actions: string[] }[]) =>
    signJwt(key, certificateDer, {
      iss: issuer,
      sub: subject,
      aud: service,
      exp: Math.floor(Date.now() / 1000) + 300,
      nbf: Math.floor(Date.now() / 1000) - 10,
      iat: Math.floor(Date.now() / 1000),
      jti: randomUUID(),
      access,
    });

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const authorization = request.headers.authorization;
    const basic = authorization?.startsWith("Basic ")
      ? Buffer.from(authorization.slice(6), "base64").toString()
      : undefined;
    const scope = url.searchParams.get("scope");
    requests.push({ scope, service: url.searchParams.get("service"), authenticated: basic !== undefined });
    const expected = opts.credentials && `${opts.credentials.user}:${opts.credentials.password}`;
    if (expected !== undefined && basic !== expected) {
      response.writeHead(401, { "content-type": "application/json" });
      response.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] }));
      return;
    }
    // Grants pull on the requested repository scope, like a public registry would for anyone.
    const access = scope
      ? scope.split(" ").flatMap((item) => {
          const [type, name, actions] = item.split(":");
          return type && name
            ? [{ type, name, actions: (actions ?? "").split(",").filter((a) => a === "pull") }]
            : [];
        })
      : [];
    const token = mint(basic ? basic.split(":")[0]! : "", access);
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    rootCertBundle: certPath,
    requests,
    mint: (repository, actions) => mint("test-pusher", [{ type: "repository", name: repository, actions }]),
    stop: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** RS256 JWT with the certificate in `x5c`, which distribution verifies against its root bundle. */
function signJwt(key: KeyObject, certificateDer: Buffer, claims: Record<string, unknown>): string {
  const header = { alg: "RS256", typ: "JWT", x5c: [certificateDer.toString("base64")] };
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const signingInput = `${encode(header)}.${encode(claims)}`;
  const signature = sign("RSA-SHA256", Buffer.from(signingInput), key).toString("base64url");
  return `${signingInput}.${signature}`;
}

function pemToDer(pem: string): Buffer {
  const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
  return Buffer.from(body, "base64");
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args[0]} failed: ${stderr || error.message}`));
      else resolve();
    });
  });
}
