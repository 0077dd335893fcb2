// GitRepository sources: resolve the ref (branch, tag, semver range or commit) with `git ls-remote`, fetch
// that one commit shallowly with the real git, apply the ignore rules and store the tree in the
// content-addressed cache, keyed by URL, commit, ignore rules and the credentials used (cache.ts
// credentialScope). Credentials reach git through the environment (an http.extraHeader, or an SSH key in a
// private temporary file), never through the command line, a config file or the cache, and are removed from
// anything git prints. git runs through runTool: a minimal environment and private HOME (no credential helper,
// ssh-agent or config of the host), http(s) and ssh transports only, and one deadline for the whole fetch.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import semver from "semver";
import type { GitRepositorySpec } from "../flux/sources.js";
import { runTool, ToolError } from "../util/child-process.js";
import { cached, cachePath, credentialScope, sha256Hex } from "./cache.js";
import { type BasicAuth, basicAuthHeader, displayUrl, redact } from "./credentials.js";
import { formatMs } from "./http.js";

export interface GitCredentials {
  basic?: BasicAuth;
  /** SSH private key (PEM/OpenSSH) and known_hosts lines, from the Secret's `identity` / `known_hosts`. */
  ssh?: { identity: string; knownHosts?: string };
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

function gitEnv(creds: GitCredentials, timeoutMs: number): GitEnv {
  const env: Record<string, string> = {
    // Only network transports: no file://, local paths, ext:: (which runs a command) or fd::.
    GIT_ALLOW_PROTOCOL: "http:https:ssh",
  };
  const secrets: string[] = [];
  let keyDir: string | undefined;
  if (creds.basic) {
    const header = basicAuthHeader(creds.basic);
    env.GIT_CONFIG_COUNT = "1";
    env.GIT_CONFIG_KEY_0 = "http.extraHeader";
    env.GIT_CONFIG_VALUE_0 = `Authorization: ${header}`;
    secrets.push(creds.basic.password, header.slice(6));
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
    env.GIT_SSH_COMMAND = `ssh -F /dev/null -i ${key} -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile=${hosts} -o StrictHostKeyChecking=${strict} -o BatchMode=yes`;
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
): Promise<GitArtifact> {
  const g = gitEnv(creds, timeoutMs);
  const url = spec.url;
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
