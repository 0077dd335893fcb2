// A real OCI distribution registry for tests (Debian's `docker-registry`, distribution 2.8; a distribution 3.x
// `registry` binary works too), plus helpers to push tiny images into it through the HTTP API. Deliberately free of vitest so a globalSetup can own one
// instance for the whole run.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { freePort } from "./processes.js";

export interface BasicCredentials {
  user: string;
  password: string;
}

export interface StartRegistryOptions {
  /** Protects the registry with htpasswd (basic) auth; anonymous requests then get 401. */
  htpasswd?: BasicCredentials;
  /**
   * Protects the registry with distribution's token auth: 401 with a Bearer challenge naming `realm`, and
   * tokens signed by the key of `rootCertBundle` (see registry-token-server.ts). Needs a distribution 3.x binary.
   */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /** Registry binary; defaults to $GITOPS_BOT_REGISTRY_BIN or `docker-registry` on PATH. */
  binary?: string;
  /**
   * `filesystem` (default) keeps blobs in the registry's temp dir; `inmemory` skips the disk, including the
   * several fsyncs distribution makes per manifest PUT, which dominate the cost of pushing thousands of tags.
   */
  storage?: "filesystem" | "inmemory";
  /** How long to wait for `GET /v2/` to answer before giving up. */
  startTimeoutMs?: number;
}

export interface RunningRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, the form image references use. */
  host: string;
  /**
   * The binary's version, e.g. `2.8.2+ds1` (Debian) or `v3.0.0`. Distribution before 3.0 ignores `n` and
   * `last` on tags/list and returns tags unsorted, so tag pagination tests need a 3.x binary.
   */
  version: string;
  stop(): Promise<void>;
}

export interface PushImageOptions {
  auth?: BasicCredentials;
  /** A bearer token (from registry-token-server.ts) for a token-protected registry; wins over `auth`. */
  bearerToken?: string;
  /**
   * Manifest annotations. Without them every tag of a repository points at the same manifest (like a
   * retag); pass e.g. `{ "org.example.tag": tag }` when a test needs a distinct digest per tag.
   */
  annotations?: Record<string, string>;
}

export interface TagList {
  name: string;
  tags: string[];
  /** The raw `Link` header, present when the registry has another page (distribution 3.x, `n` given). */
  link?: string;
}

const defaultBinary = "docker-registry";
const maxStartAttempts = 3;

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const binary = opts.binary ?? process.env.GITOPS_BOT_REGISTRY_BIN ?? defaultBinary;
  const version = await registryVersion(binary);
  const dir = await mkdtemp(join(tmpdir(), "gitops-bot-registry-"));
  try {
    if (opts.htpasswd) {
      await writeFile(join(dir, "htpasswd"), await htpasswdLine(opts.htpasswd));
    }
    // The free port is found by binding and releasing it, so another process can take it before the
    // registry binds; retrying with a fresh port makes that race harmless.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const host = `127.0.0.1:${port}`;
      const configPath = join(dir, "config.yml");
      await writeFile(configPath, registryConfig(dir, host, opts));
      try {
        const child = await spawnRegistry(
          binary,
          configPath,
          `http://${host}`,
          opts.startTimeoutMs ?? 15_000,
        );
        return { url: `http://${host}`, host, version, stop: () => stopRegistry(child, dir) };
      } catch (error) {
        if (!(error instanceof PortInUseError) || attempt >= maxStartAttempts) throw error;
      }
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Pushes a tiny but valid OCI image (one config blob, one gzipped tar layer) as `repository:tag` and
 * returns the manifest digest. Blobs are only uploaded when the registry does not have them yet, so
 * pushing many tags of one repository costs one manifest PUT per tag plus two HEADs.
 */
export async function pushImage(
  registryUrl: string,
  repository: string,
  tag: string,
  opts: PushImageOptions = {},
): Promise<string> {
  const image = tinyImage(opts.annotations);
  const auth = opts.bearerToken ?? opts.auth;
  await ensureBlobs(registryUrl, repository, image.blobs, auth);
  return putManifest(registryUrl, repository, tag, image.manifest, auth);
}

/**
 * Pushes the same tiny image under many tags, uploading blobs once and putting manifests with bounded
 * parallelism. Returns the digest per tag. Meant for pagination tests that need thousands of tags.
 */
export async function pushImageTags(
  registryUrl: string,
  repository: string,
  tags: readonly string[],
  opts: PushImageOptions & { concurrency?: number } = {},
): Promise<Map<string, string>> {
  const image = tinyImage(opts.annotations);
  const auth = opts.bearerToken ?? opts.auth;
  await ensureBlobs(registryUrl, repository, image.blobs, auth);
  const digests = new Map<string, string>();
  let next = 0;
  const worker = async () => {
    while (next < tags.length) {
      const tag = tags[next++]!;
      digests.set(tag, await putManifest(registryUrl, repository, tag, image.manifest, auth));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 8) }, worker));
  return digests;
}

/** `GET /v2/<name>/tags/list` as the registry answers it, for checking what a test pushed. */
export async function listTags(
  registryUrl: string,
  repository: string,
  opts: { auth?: BasicCredentials; n?: number; last?: string } = {},
): Promise<TagList> {
  const url = new URL(`/v2/${repository}/tags/list`, registryUrl);
  if (opts.n !== undefined) url.searchParams.set("n", String(opts.n));
  if (opts.last !== undefined) url.searchParams.set("last", opts.last);
  const response = await registryFetch(url, { headers: authHeaders(opts.auth) }, [200], "list tags");
  const body = (await response.json()) as { name: string; tags: string[] | null };
  const link = response.headers.get("link");
  // The registry answers `"tags": null` for a repository whose tags were all deleted.
  return { name: body.name, tags: body.tags ?? [], ...(link ? { link } : {}) };
}

// ---------------------------------------------------------------------------------------------------------
// Registry process

class PortInUseError extends Error {}

function registryConfig(dir: string, host: string, opts: StartRegistryOptions): string {
  const driver =
    opts.storage === "inmemory" ? { inmemory: {} } : { filesystem: { rootdirectory: join(dir, "data") } };
  // JSON is valid YAML, and it spares us quoting temp-dir paths by hand.
  const config = {
    version: 0.1,
    log: { level: "error", accesslog: { disabled: true } },
    storage: { ...driver, delete: { enabled: true } },
    // Without a secret the registry logs a warning on every start.
    http: { addr: host, secret: randomBytes(16).toString("hex") },
    ...(opts.htpasswd
      ? { auth: { htpasswd: { realm: "gitops-bot-test", path: join(dir, "htpasswd") } } }
      : {}),
    ...(opts.token
      ? {
          auth: {
            token: {
              realm: opts.token.realm,
              service: opts.token.service,
              issuer: opts.token.issuer,
              rootcertbundle: opts.token.rootCertBundle,
            },
          },
        }
      : {}),
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

async function spawnRegistry(
  binary: string,
  configPath: string,
  url: string,
  timeoutMs: number,
): Promise<ChildProcess> {
  const child = spawn(binary, ["serve", configPath], { stdio: ["ignore", "pipe", "pipe"] });
  // Keep only the tail of the output: enough to explain a failed start, bounded for a long test run.
  let output = "";
  const remember = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on("data", remember);
  child.stderr?.on("data", remember);

  const exited = new Promise<never>((_, reject) => {
    child.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "ENOENT"
          ? missingBinary(binary)
          : new Error(`could not start "${binary}": ${error.message}`),
      );
    });
    child.once("exit", (code, signal) => {
      const reason = `registry "${binary}" exited during start-up (code ${code}, signal ${signal}): ${output}`;
      reject(/address already in use/.test(output) ? new PortInUseError(reason) : new Error(reason));
    });
  });
  // Swallow the rejection once start-up is over; a later crash surfaces as refused connections instead.
  exited.catch(() => {});

  try {
    await Promise.race([exited, waitUntilServing(url, timeoutMs, () => output)]);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  // A crashed test runner must not leave registries behind.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.removeListener("exit", killOnExit));
  return child;
}

function missingBinary(binary: string): Error {
  return new Error(
    `registry binary "${binary}" not found; install Debian's distribution registry ` +
      "(apt-get install docker-registry) or point GITOPS_BOT_REGISTRY_BIN at a distribution `registry` binary",
  );
}

/** `docker-registry github.com/docker/distribution 2.8.2+ds1` → `2.8.2+ds1` */
function registryVersion(binary: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, ["--version"], (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === "ENOENT") reject(missingBinary(binary));
      else if (error) reject(new Error(`"${binary} --version" failed: ${stderr || error.message}`));
      else resolve(stdout.trim().split(/\s+/).at(-1) ?? "unknown");
    });
  });
}

async function waitUntilServing(url: string, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/v2/`);
      await response.body?.cancel();
      // 401 is the healthy answer of a registry with auth enabled.
      if (response.status === 200 || response.status === 401) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`registry at ${url} did not answer GET /v2/ within ${timeoutMs} ms: ${output()}`);
}

async function stopRegistry(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    // A graceful shutdown buys nothing when the storage is deleted next.
    child.kill("SIGKILL");
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
}

/** distribution only accepts bcrypt htpasswd entries; apache2-utils' `htpasswd -B` writes those. */
function htpasswdLine({ user, password }: BasicCredentials): Promise<string> {
  return new Promise((resolve, reject) => {
    // -i reads the password from stdin so it never shows up in a process listing.
    const child = execFile("htpasswd", ["-niB", user], (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === "ENOENT") {
        reject(new Error('"htpasswd" not found; install it with apt-get install apache2-utils'));
      } else if (error) {
        reject(new Error(`htpasswd failed: ${stderr || error.message}`));
      } else {
        resolve(`${stdout.trim()}\n`);
      }
    });
    child.stdin?.end(password);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Image content and the push protocol

interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  data: Buffer;
}

function blobOf(mediaType: string, data: Buffer): Blob {
  return { mediaType, digest: sha256Digest(data), size: data.length, data };
}

function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

function tinyImage(annotations?: Record<string, string>): { blobs: Blob[]; manifest: string } {
  const tar = tarWithOneFile("hello.txt", "hello from the gitops-bot test registry\n");
  // Node's gzip header carries no mtime, so the layer digest is the same on every run.
  const layer = blobOf("application/vnd.oci.image.layer.v1.tar+gzip", gzipSync(tar));
  const config = blobOf(
    "application/vnd.oci.image.config.v1+json",
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: {},
        rootfs: { type: "layers", diff_ids: [sha256Digest(tar)] },
      }),
    ),
  );
  const descriptor = ({ mediaType, digest, size }: Blob) => ({ mediaType, digest, size });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: descriptor(config),
    layers: [descriptor(layer)],
    ...(annotations ? { annotations } : {}),
  });
  return { blobs: [config, layer], manifest };
}

/** A ustar archive holding one regular file; small enough to write by hand rather than add a dependency. */
function tarWithOneFile(name: string, content: string): Buffer {
  const body = Buffer.from(content);
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) =>
    header.write(value, offset, length, "ascii");
  const octal = (offset: number, length: number, value: number) =>
    field(offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
  field(0, 100, name);
  octal(100, 8, 0o644); // mode
  octal(108, 8, 0); // uid
  octal(116, 8, 0); // gid
  octal(124, 12, body.length);
  octal(136, 12, 0); // mtime: fixed so the digest is reproducible
  field(148, 8, "        "); // checksum is computed with its own field as spaces
  field(156, 1, "0"); // regular file
  field(257, 6, "ustar\0");
  field(263, 2, "00");
  let checksum = 0;
  for (const byte of header) checksum += byte;
  field(148, 8, `${checksum.toString(8).padStart(6, "0")}\0 `);
  const padding = Buffer.alloc((512 - (body.length % 512)) % 512);
  // Two zero blocks mark the end of the archive.
  return Buffer.concat([header, body, padding, Buffer.alloc(1024)]);
}

async function ensureBlobs(
  registryUrl: string,
  repository: string,
  blobs: Blob[],
  auth?: RegistryAuth,
): Promise<void> {
  for (const blob of blobs) {
    const url = new URL(`/v2/${repository}/blobs/${blob.digest}`, registryUrl);
    const head = await registryFetch(
      url,
      { method: "HEAD", headers: authHeaders(auth) },
      [200, 404],
      "check blob",
    );
    if (head.status === 200) continue;
    const started = await registryFetch(
      new URL(`/v2/${repository}/blobs/uploads/`, registryUrl),
      { method: "POST", headers: authHeaders(auth) },
      [202],
      "start blob upload",
    );
    const location = started.headers.get("location");
    if (!location) throw new Error(`registry ${registryUrl}: blob upload for ${repository} gave no Location`);
    // Location may be relative and already carries upload state in its query string.
    const uploadUrl = new URL(location, registryUrl);
    uploadUrl.searchParams.set("digest", blob.digest);
    await registryFetch(
      uploadUrl,
      {
        method: "PUT",
        headers: { ...authHeaders(auth), "content-type": "application/octet-stream" },
        body: blob.data,
      },
      [201],
      `upload blob ${blob.digest}`,
    );
  }
}

async function putManifest(
  registryUrl: string,
  repository: string,
  tag: string,
  manifest: string,
  auth?: RegistryAuth,
): Promise<string> {
  const response = await registryFetch(
    new URL(`/v2/${repository}/manifests/${tag}`, registryUrl),
    {
      method: "PUT",
      headers: { ...authHeaders(auth), "content-type": "application/vnd.oci.image.manifest.v1+json" },
      body: manifest,
    },
    [201],
    `put manifest ${repository}:${tag}`,
  );
  const expected = sha256Digest(manifest);
  const digest = response.headers.get("docker-content-digest");
  if (digest && digest !== expected) {
    throw new Error(
      `registry ${registryUrl}: ${repository}:${tag} stored as ${digest}, expected ${expected}`,
    );
  }
  return expected;
}

/** Basic credentials, or a bearer token string. */
type RegistryAuth = BasicCredentials | string;

function authHeaders(auth?: RegistryAuth): Record<string, string> {
  if (!auth) return {};
  if (typeof auth === "string") return { authorization: `Bearer ${auth}` };
  return { authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString("base64")}` };
}

/** fetch that turns an unexpected status into an error naming the step and the registry's answer. */
async function registryFetch(
  url: URL,
  init: RequestInit,
  expected: number[],
  step: string,
): Promise<Response> {
  const response = await fetch(url, init);
  if (!expected.includes(response.status)) {
    const body = await response.text().catch(() => "");
    throw new Error(
      `registry ${url.origin}: ${step} (${init.method ?? "GET"} ${url.pathname}): ${response.status} ${body}`,
    );
  }
  // Only JSON answers are read by callers; releasing the rest keeps the keep-alive connection reusable.
  if (init.method === "PUT" || init.method === "POST" || init.method === "HEAD")
    await response.body?.cancel();
  return response;
}

/**
 * distribution v3's `registry`, built by scripts/registry-binary.sh: it honours `n`/`last` on tags/list (Debian's
 * 2.8 does not) and supports token auth, so pagination and bearer tests need it.
 */
export function paginatingRegistryBinary(): string {
  const binary =
    process.env.GITOPS_BOT_REGISTRY_V3_BIN ??
    join(process.env.GITOPS_BOT_CACHE ?? join(homedir(), ".cache", "gitops-bot"), "bin", "registry-v3.0.0");
  if (!existsSync(binary)) {
    throw new Error(
      `${binary} not found; build it with scripts/registry-binary.sh (needs Go, about 4 minutes)`,
    );
  }
  return binary;
}
