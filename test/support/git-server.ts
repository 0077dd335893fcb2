// Real git repositories and a smart-HTTP server for them (`git http-backend` run as CGI from node:http), so
// source code is tested against the same protocol GitHub speaks. Free of vitest so a globalSetup can own it.

import { execFile, spawn } from "node:child_process";
import { timingSafeEqual } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";

export interface BasicCredentials {
  user: string;
  password: string;
}

export interface StartGitServerOptions {
  /** Requires these basic-auth credentials on every request (401 + WWW-Authenticate otherwise). */
  auth?: BasicCredentials;
}

export interface RunningGitServer {
  /** `http://127.0.0.1:PORT`; the repository at `${root}/<name>` is served at `${url}/<name>`. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Environment for every git the harness runs: the machine's and user's config (signing, hooks, default
 * branch, credential helpers) must not change what tests see, and a missing credential must fail rather
 * than wait for a terminal prompt.
 */
export const isolatedGitEnv: Readonly<Record<string, string>> = {
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_TERMINAL_PROMPT: "0",
  GIT_AUTHOR_NAME: "gitops-bot test",
  GIT_AUTHOR_EMAIL: "test@gitops-bot.invalid",
  GIT_COMMITTER_NAME: "gitops-bot test",
  GIT_COMMITTER_EMAIL: "test@gitops-bot.invalid",
};

/** Runs git with the isolated environment and returns trimmed stdout; errors carry git's stderr. */
export function runGit(
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      "git",
      args,
      { cwd: opts.cwd, env: { ...process.env, ...isolatedGitEnv, ...opts.env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if ((error as NodeJS.ErrnoException | null)?.code === "ENOENT") {
          reject(new Error('"git" not found on PATH; install it with apt-get install git'));
        } else if (error) {
          reject(new Error(`git ${args.join(" ")} failed in ${opts.cwd ?? process.cwd()}: ${stderr.trim()}`));
        } else {
          resolvePromise(stdout.trim());
        }
      },
    );
  });
}

/**
 * Creates a non-bare repository at `dir` with `files` in one commit on `branch` (default `main`).
 * Pushes to the checked-out branch are accepted and update the working tree, so a test can let the bot
 * push (image automation) and then read the result from `dir`.
 */
export async function createGitRepo(
  dir: string,
  files: Record<string, string>,
  opts: { branch?: string; message?: string } = {},
): Promise<{ dir: string; sha: string }> {
  await mkdir(dir, { recursive: true });
  await runGit(["init", "--quiet", "-b", opts.branch ?? "main"], { cwd: dir });
  // Local config too, so a plain `git commit` typed while debugging in `dir` works the same way.
  await runGit(["config", "user.name", isolatedGitEnv.GIT_AUTHOR_NAME!], { cwd: dir });
  await runGit(["config", "user.email", isolatedGitEnv.GIT_AUTHOR_EMAIL!], { cwd: dir });
  await runGit(["config", "receive.denyCurrentBranch", "updateInstead"], { cwd: dir });
  const sha = await commitFiles(dir, files, opts.message ?? "Initial commit");
  return { dir, sha };
}

/**
 * Writes (string) or deletes (null) files and commits everything as one commit; returns its sha.
 * A commit without changes is still made, so a test can always get a new revision.
 */
export async function commitFiles(
  dir: string,
  files: Record<string, string | null>,
  message: string,
): Promise<string> {
  for (const [name, content] of Object.entries(files)) {
    const path = pathInside(dir, name);
    if (content === null) {
      await rm(path, { force: true });
    } else {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, content);
    }
  }
  await runGit(["add", "--all"], { cwd: dir });
  await runGit(["commit", "--quiet", "--allow-empty", "--no-verify", "-m", message], { cwd: dir });
  return runGit(["rev-parse", "HEAD"], { cwd: dir });
}

/** Tags HEAD (annotated when a message is given, lightweight otherwise); returns the tagged commit sha. */
export async function tagRepo(dir: string, tag: string, opts: { message?: string } = {}): Promise<string> {
  const args = opts.message === undefined ? ["tag", tag] : ["tag", "-a", tag, "-m", opts.message];
  await runGit(args, { cwd: dir });
  return runGit(["rev-parse", "HEAD"], { cwd: dir });
}

/**
 * Serves every repository under `root` over smart HTTP. Non-bare repositories need no preparation:
 * http-backend looks for `<name>/.git` before `<name>`, so `git clone ${url}/<name>` works for a repo
 * made by createGitRepo(`${root}/<name>`), and so does a bare `${root}/<name>.git` at `${url}/<name>.git`.
 * Pushes are enabled.
 */
export async function startGitServer(
  root: string,
  opts: StartGitServerOptions = {},
): Promise<RunningGitServer> {
  const projectRoot = resolve(root);
  const backends = new Set<ReturnType<typeof spawn>>();
  const server = createServer((request, response) => {
    if (opts.auth && !isAuthorized(request, opts.auth)) {
      response.writeHead(401, { "www-authenticate": 'Basic realm="gitops-bot test git"' }).end();
      return;
    }
    const backend = runHttpBackend(projectRoot, request, response, opts.auth?.user);
    backends.add(backend);
    backend.once("close", () => backends.delete(backend));
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolvePromise());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      for (const backend of backends) backend.kill("SIGKILL");
      // git keeps connections alive between requests; without this close() waits for them to time out.
      server.closeAllConnections();
      await new Promise<void>((resolvePromise, reject) =>
        server.close((error) => (error ? reject(error) : resolvePromise())),
      );
    },
  };
}

function runHttpBackend(
  projectRoot: string,
  request: IncomingMessage,
  response: ServerResponse,
  remoteUser: string | undefined,
): ReturnType<typeof spawn> {
  const url = new URL(request.url ?? "/", "http://placeholder");
  let pathInfo: string;
  try {
    pathInfo = decodeURIComponent(url.pathname);
  } catch {
    pathInfo = url.pathname; // malformed escapes: let http-backend answer 404 for the raw path
  }
  const env: Record<string, string> = {
    ...process.env,
    GIT_PROJECT_ROOT: projectRoot,
    GIT_HTTP_EXPORT_ALL: "1",
    // http-backend only allows pushes from an authenticated REMOTE_USER unless receive-pack is enabled;
    // tests push anonymously too. safe.directory spares CI runners whose checkout owner differs.
    GIT_CONFIG_COUNT: "2",
    GIT_CONFIG_KEY_0: "http.receivepack",
    GIT_CONFIG_VALUE_0: "true",
    GIT_CONFIG_KEY_1: "safe.directory",
    GIT_CONFIG_VALUE_1: "*",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GATEWAY_INTERFACE: "CGI/1.1",
    SERVER_PROTOCOL: `HTTP/${request.httpVersion}`,
    SERVER_SOFTWARE: "gitops-bot-test-git-server",
    REQUEST_METHOD: request.method ?? "GET",
    PATH_INFO: pathInfo,
    QUERY_STRING: url.search.slice(1),
    REMOTE_ADDR: request.socket.remoteAddress ?? "127.0.0.1",
    CONTENT_TYPE: request.headers["content-type"] ?? "",
    ...(remoteUser ? { REMOTE_USER: remoteUser, AUTH_TYPE: "Basic" } : {}),
    // Chunked requests (large pushes) have no length; http-backend then reads until end of input.
    ...(request.headers["content-length"] ? { CONTENT_LENGTH: request.headers["content-length"] } : {}),
  };
  // The CGI convention: every request header as HTTP_<NAME>. This carries Content-Encoding (clients gzip
  // large requests) and Git-Protocol (protocol v2) to http-backend.
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || name === "authorization") continue;
    env[`HTTP_${name.toUpperCase().replaceAll("-", "_")}`] = Array.isArray(value) ? value.join(", ") : value;
  }

  const backend = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  backend.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8_000);
  });
  backend.once("error", (error) => fail(`could not run git http-backend: ${error.message}`));
  request.pipe(backend.stdin);
  // A client that hangs up mid-request makes stdin error with EPIPE; the response is moot by then.
  backend.stdin.on("error", () => {});
  request.once("aborted", () => backend.kill("SIGKILL"));

  let head = Buffer.alloc(0);
  let headersSent = false;
  backend.stdout.on("data", (chunk: Buffer) => {
    if (headersSent) {
      response.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = findHeaderEnd(head);
    if (!end) return;
    const { status, headers } = parseCgiHeaders(head.subarray(0, end.index).toString("latin1"));
    response.writeHead(status, headers);
    headersSent = true;
    const body = head.subarray(end.index + end.length);
    if (body.length > 0) response.write(body);
  });
  backend.once("close", (code) => {
    if (!headersSent) {
      fail(`git http-backend exited with code ${code} before sending headers: ${stderr.trim()}`);
    } else {
      response.end();
    }
  });

  function fail(message: string) {
    if (response.headersSent) {
      response.destroy(new Error(message));
    } else {
      response.writeHead(500, { "content-type": "text/plain" }).end(`${message}\n`);
    }
  }
  return backend;
}

/** CGI headers end at the first empty line; http-backend uses CRLF but the spec also allows bare LF. */
function findHeaderEnd(buffer: Buffer): { index: number; length: number } | undefined {
  const crlf = buffer.indexOf("\r\n\r\n");
  const lf = buffer.indexOf("\n\n");
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return { index: crlf, length: 4 };
  if (lf !== -1) return { index: lf, length: 2 };
  return undefined;
}

function parseCgiHeaders(text: string): { status: number; headers: Record<string, string | string[]> } {
  let status = 200;
  const headers: Record<string, string | string[]> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "status") {
      // "Status: 404 Not Found"
      status = Number.parseInt(value, 10) || 500;
    } else {
      const previous = headers[name];
      headers[name] = previous === undefined ? value : [previous, value].flat();
    }
  }
  return { status, headers };
}

function isAuthorized(request: IncomingMessage, expected: BasicCredentials): boolean {
  const header = request.headers.authorization ?? "";
  if (!header.toLowerCase().startsWith("basic ")) return false;
  const given = Buffer.from(Buffer.from(header.slice(6).trim(), "base64").toString("utf8"));
  const wanted = Buffer.from(`${expected.user}:${expected.password}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** Resolves a repository-relative file name, refusing names that would write outside the repository. */
function pathInside(dir: string, name: string): string {
  const path = resolve(dir, name);
  const rel = relative(resolve(dir), path);
  const first = rel.split(sep)[0];
  if (rel === "" || first === ".." || first === ".git" || isAbsolute(rel)) {
    throw new Error(`file name "${name}" is not a path inside the repository ${dir}`);
  }
  return path;
}
