// GitRepository sources: resolve the ref (branch, tag, semver range or commit) with `git ls-remote`, fetch
// that one commit shallowly with the real git, apply the ignore rules and store the tree in the
// content-addressed cache, keyed by URL, commit, ignore rules and the credentials used (cache.ts
// credentialScope). Credentials reach git through the environment (an http.extraHeader, or an SSH key in a
// private temporary file), never through the command line, a config file or the cache, and are removed from
// anything git prints. git runs through runTool: a minimal environment and private HOME (no credential helper,
// ssh-agent or config of the host), http(s) and ssh transports only, and one deadline for the whole fetch.
// git connects only to the addresses the outbound policy checked (`http.curloptResolve`, ssh `HostName`), so a
// second DNS answer cannot rebind it, and follows no HTTP redirect (which could lead to a host the policy
// denies, with the credentials' header).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import semver from "semver";
import type { GitRepositorySpec } from "../flux/sources.js";
import { runTool, ToolError } from "../util/child-process.js";
import { normaliseHost, parseIp } from "../util/outbound/index.js";
import { cached, cachePath, credentialScope, sha256Hex } from "./cache.js";
import { type BasicAuth, basicAuthHeader, displayUrl, redact } from "./credentials.js";
import { formatMs } from "./http.js";

export interface GitCredentials {
  basic?: BasicAuth;
  /** SSH private key (PEM/OpenSSH) and known_hosts lines, from the Secret's `identity` / `known_hosts`. */
  ssh?: { identity: string; knownHosts?: string };
}

/** The URL's host and the addresses the outbound policy judged for it: git's connections go only there. */
export interface PinnedHost {
  host: string;
  addresses: string[];
}

export interface GitArtifact {
  dir: string;
  /** Flux's revision format: `main@sha1:<sha>`, `v1.2.0@sha1:<sha>`, `sha1:<sha>`. */
  revision: string;
  commit: string;
}

// What source-controller leaves out of every artifact, before the user's spec.ignore.
const defaultIgnore = [
  "/.git/",
  "/.gitignore",
  "/.gitmodules",
  "/.gitattributes",
  "*.jpg",
  "*.jpeg",
  "*.gif",
  "*.png",
  "*.wmv",
  "*.flv",
  "*.tar.gz",
  "*.zip",
  "/.github/",
  "/.circleci/",
  "/.travis.yml",
  "/.gitlab-ci.yml",
  "/appveyor.yml",
  "/.drone.yml",
  "/cloudbuild.yaml",
  "/codeship-services.yml",
  "/codeship-steps.yml",
  "**/.goreleaser.yml",
  "**/.sops.yaml",
  "**/.flux.yaml",
];

/** What git may print on stdout (ls-remote of a repository with many tags, ls-files of a large tree). */
const maxGitOutputBytes = 64 * 1024 * 1024;

interface GitEnv {
  env: Record<string, string>;
  secrets: string[];
  /** When the whole fetch must be done (the source's timeout, from its start). */
  deadline: number;
  timeoutMs: number;
  cleanup(): void;
}

/** Where git connects: the URL's scheme, host and port (undefined for forms that are not URLs). */
function endpointOf(url: string): { scheme: string; host: string; port: number } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const scheme = parsed.protocol.replace(/:$/, "");
  const defaults: Record<string, number> = { http: 80, https: 443, ssh: 22 };
  const port = parsed.port ? Number(parsed.port) : defaults[scheme];
  return port === undefined ? undefined : { scheme, host: parsed.hostname.toLowerCase(), port };
}

const plainHostName = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

/** An address as curl's resolve list and ssh's HostName take it (IPv6 in brackets for curl). */
const curlAddress = (address: string) => (address.includes(":") ? `[${address}]` : address);

function gitEnv(creds: GitCredentials, timeoutMs: number, url: string, pinned?: PinnedHost): GitEnv {
  const env: Record<string, string> = {
    // Only network transports: no file://, local paths, ext:: (which runs a command) or fd::.
    GIT_ALLOW_PROTOCOL: "http:https:ssh",
  };
  const secrets: string[] = [];
  let keyDir: string | undefined;
  // Through GIT_CONFIG_* (the environment), never the command line, where credentials would be visible.
  const config: [string, string][] = [["http.followRedirects", "false"]];
  const endpoint = endpointOf(url);
  // A host name (not an address literal) is pinned to the addresses the policy checked.
  const pin =
    pinned && endpoint && pinned.addresses.length > 0 && !parseIp(normaliseHost(endpoint.host))
      ? pinned
      : undefined;
  if (pin && endpoint && !plainHostName.test(endpoint.host)) {
    // It resolved, so this does not happen with real names; it must never reach a shell (GIT_SSH_COMMAND).
    throw new Error(`${JSON.stringify(endpoint.host)} is not a host name`);
  }
  if (pin && endpoint && (endpoint.scheme === "http" || endpoint.scheme === "https")) {
    config.push([
      "http.curloptResolve",
      `${endpoint.host}:${endpoint.port}:${pin.addresses.map(curlAddress).join(",")}`,
    ]);
  }
  if (creds.basic) {
    const header = basicAuthHeader(creds.basic);
    config.push(["http.extraHeader", `Authorization: ${header}`]);
    secrets.push(creds.basic.password, header.slice(6));
  }
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  // ssh: to the checked address, with host keys still looked up under the name (as known_hosts writes it).
  const sshPin =
    pin && endpoint?.scheme === "ssh"
      ? ` -o HostName=${pin.addresses[0]} -o HostKeyAlias=${endpoint.port === 22 ? endpoint.host : `[${endpoint.host}]:${endpoint.port}`}`
      : "";
  if (!creds.ssh && sshPin) {
    env.GIT_SSH_COMMAND = `ssh -F /dev/null -o IdentityAgent=none -o BatchMode=yes${sshPin}`;
  }
  if (creds.ssh) {
    keyDir = mkdtempSync(join(tmpdir(), "gitops-bot-ssh-"));
    const key = join(keyDir, "identity");
    const hosts = join(keyDir, "known_hosts");
    writeFileSync(key, creds.ssh.identity.endsWith("\n") ? creds.ssh.identity : `${creds.ssh.identity}\n`, {
      mode: 0o600,
    });
    writeFileSync(hosts, creds.ssh.knownHosts ?? "", { mode: 0o600 });
    const strict = creds.ssh.knownHosts ? "yes" : "accept-new";
    // -F /dev/null and IdentityAgent=none: no ssh config or agent of the host, only the Secret's key.
    env.GIT_SSH_COMMAND = `ssh -F /dev/null -i ${key} -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile=${hosts} -o StrictHostKeyChecking=${strict} -o BatchMode=yes${sshPin}`;
  }
  return {
    env,
    secrets,
    deadline: Date.now() + timeoutMs,
    timeoutMs,
    cleanup: () => {
      if (keyDir) rmSync(keyDir, { recursive: true, force: true });
    },
  };
}

const gitBoilerplate = new Set([
  "Please make sure you have the correct access rights",
  "and the repository exists.",
]);

async function git(args: string[], g: GitEnv, opts: { cwd?: string } = {}): Promise<string> {
  const left = g.deadline - Date.now();
  if (left <= 0) throw new Error(`timed out after ${formatMs(g.timeoutMs)}`);
  try {
    const { stdout } = await runTool({
      binary: "git",
      args,
      cwd: opts.cwd,
      env: g.env,
      timeoutMs: left,
      maxOutputBytes: maxGitOutputBytes,
      label: `git ${args[0]}`,
    });
    return stdout;
  } catch (err) {
    if (!(err instanceof ToolError)) throw err;
    // No `cause` here and below: a ToolError carries git's raw stderr, which may hold a credential.
    if (err.reason === "not-found") throw new Error("git not found on PATH");
    // Past the deadline, whatever git last said (a killed child, a cut connection) the cause is the deadline.
    if (err.reason === "timeout" || Date.now() >= g.deadline)
      throw new Error(`timed out after ${formatMs(g.timeoutMs)}`);
    if (err.reason === "output-limit") throw new Error(redact(err.message, g.secrets));
    const redirect = /returned error: (30[12378])\b/.exec(err.stderr);
    if (redirect) {
      throw new Error(
        `the server answered with a redirect (HTTP ${redirect[1]}); git follows no redirect (it could lead to a host the outbound policy denies): put the final URL in spec.url`,
      );
    }
    // git ends every failed remote access with the same advice, which would push the real cause (ssh's
    // "Host key verification failed.", "Permission denied (publickey).") out of the last lines.
    const text = (err.stderr.trim() || err.message)
      .split("\n")
      .filter((l) => l.trim() && !l.startsWith("hint:") && !gitBoilerplate.has(l.trim()));
    throw new Error(
      redact(
        text
          .slice(-3)
          .join("; ")
          .replace(/^fatal: /, ""),
        g.secrets,
      ),
    );
  }
}

interface RemoteRef {
  name: string;
  sha: string;
}

function parseLsRemote(text: string): RemoteRef[] {
  const refs = new Map<string, string>();
  for (const line of text.split("\n")) {
    const [sha, name] = line.split("\t");
    if (!sha || !name) continue;
    // Annotated tags: the peeled `^{}` line names the commit, and wins.
    if (name.endsWith("^{}")) refs.set(name.slice(0, -3), sha);
    else if (!refs.has(name)) refs.set(name, sha);
  }
  return [...refs].map(([name, sha]) => ({ name, sha }));
}

/** The commit a ref points at now, and the revision string Flux would report for it. */
export async function resolveGitRef(
  url: string,
  ref: GitRepositorySpec["ref"],
  g: GitEnv,
): Promise<{ commit: string; revision: string; fetchRef?: string }> {
  const r = ref ?? {};
  if (r.commit) {
    const commit = r.commit;
    // A commit needs no lookup, but the cache must not answer before the server has: this run proves, with
    // its own credentials (or none), that it may read the repository at all.
    await git(["ls-remote", url, r.branch ? `refs/heads/${r.branch}` : "HEAD"], g);
    return {
      commit,
      revision: r.branch ? `${r.branch}@sha1:${commit}` : `sha1:${commit}`,
      fetchRef: r.branch,
    };
  }
  if (r.semver) {
    if (!semver.validRange(r.semver)) throw new Error(`ref.semver "${r.semver}" is not a valid semver range`);
    const tags = parseLsRemote(await git(["ls-remote", "--tags", url], g)).map((t) => ({
      tag: t.name.replace(/^refs\/tags\//, ""),
      sha: t.sha,
    }));
    const valid = tags.filter((t) => semver.valid(t.tag, { loose: true }));
    const best = semver.maxSatisfying(
      valid.map((t) => t.tag),
      r.semver,
      { loose: true },
    );
    const chosen = valid.find((t) => t.tag === best);
    if (!chosen) throw new Error(`no tag matches semver range "${r.semver}"`);
    return {
      commit: chosen.sha,
      revision: `${chosen.tag}@sha1:${chosen.sha}`,
      fetchRef: `refs/tags/${chosen.tag}`,
    };
  }
  if (r.tag) {
    const found = parseLsRemote(
      await git(["ls-remote", url, `refs/tags/${r.tag}`, `refs/tags/${r.tag}^{}`], g),
    )[0];
    if (!found) throw new Error(`tag "${r.tag}" not found`);
    return { commit: found.sha, revision: `${r.tag}@sha1:${found.sha}`, fetchRef: `refs/tags/${r.tag}` };
  }
  // Flux's default when no ref is given is the master branch.
  const branch = r.branch ?? "master";
  const found = parseLsRemote(await git(["ls-remote", url, `refs/heads/${branch}`], g))[0];
  if (!found) throw new Error(`branch "${branch}" not found`);
  return { commit: found.sha, revision: `${branch}@sha1:${found.sha}`, fetchRef: `refs/heads/${branch}` };
}

/** Fetches a GitRepository's tree at its ref into the cache; returns where it is and its revision. */
export async function fetchGitRepository(
  spec: GitRepositorySpec,
  creds: GitCredentials,
  cacheDir: string,
  timeoutMs: number,
  /** The addresses the outbound policy checked for the URL's host (resolver.ts); git connects only there. */
  pinned?: PinnedHost,
): Promise<GitArtifact> {
  const url = spec.url;
  const g = gitEnv(creds, timeoutMs, url, pinned);
  try {
    const resolved = await resolveGitRef(url, spec.ref, g);
    const key = `${sha256Hex(url).slice(0, 16)}-${resolved.commit}-${sha256Hex(spec.ignore ?? "").slice(0, 8)}`;
    // Entries are kept per credential identity: a tree fetched with a Secret is never served to a run
    // without it (or with another one).
    const scope = credentialScope(cacheDir, creds.basic || creds.ssh ? creds : undefined);
    const dir = await cached(cachePath(cacheDir, `git/${scope}`, key), async (tmp) => {
      mkdirSync(tmp, { recursive: true });
      await git(["init", "--quiet", tmp], g);
      let fetched = false;
      if (resolved.commit.length === 40) {
        fetched = await git(["fetch", "--quiet", "--depth", "1", url, resolved.commit], g, { cwd: tmp })
          .then(() => true)
          .catch(() => false);
      }
      if (!fetched) {
        // Servers that do not serve arbitrary commits: fetch the ref (or everything) and find the commit in it.
        const refspec = resolved.fetchRef ?? "+refs/heads/*:refs/remotes/origin/*";
        await git(["fetch", "--quiet", url, refspec], g, { cwd: tmp });
      }
      const commit = (
        await git(["rev-parse", "--verify", `${resolved.commit}^{commit}`], g, { cwd: tmp })
      ).trim();
      await git(["-c", "advice.detachedHead=false", "checkout", "--quiet", commit], g, { cwd: tmp });
      const patterns = join(tmp, ".git", "gitops-bot-ignore");
      writeFileSync(patterns, [...defaultIgnore, ...(spec.ignore ?? "").split("\n")].join("\n"));
      const ignored = (
        await git(["ls-files", "-z", "--cached", "--ignored", `--exclude-from=${patterns}`], g, { cwd: tmp })
      )
        .split("\0")
        .filter(Boolean);
      for (const file of ignored) rmSync(join(tmp, file), { force: true });
      rmSync(join(tmp, ".git"), { recursive: true, force: true });
    });
    return { dir, revision: resolved.revision, commit: resolved.commit };
  } catch (err) {
    throw new Error(`fetching ${displayUrl(url)}: ${redact((err as Error).message, g.secrets)}`);
  } finally {
    g.cleanup();
  }
}
