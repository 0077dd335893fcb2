// GitRepository sources over SSH, against a real sshd: the Secret's `identity` and `known_hosts` (as Flux
// reads them) authenticate the fetch, a host key that does not match fails with a message naming the source,
// and the private key never reaches a message, the cache or a file left behind.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { createOutboundPolicy } from "../../src/util/outbound/index.js";
import { createGitRepo } from "../support/git-server.js";
import { createNamespace, exists, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";
import { generateSshKey, type RunningSshGitServer, startSshGitServer } from "../support/ssh-git-server.js";

function sshGitRepository(name: string, ns: string, url: string, secret: string): string {
  return `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  interval: 5m
  url: ${url}
  ref:
    branch: main
  secretRef:
    name: ${secret}
`;
}

function fromSource(name: string, ns: string, source: string, path: string): string {
  return fluxKustomization({ name, namespace: ns, path, extra: `  targetNamespace: ${ns}\n` }).replace(
    "name: flux-system",
    `name: ${source}`,
  );
}

/** The temporary key directories the SSH fetch makes (gitops-bot-ssh-*), which must not outlive it. */
function sshKeyDirs(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith("gitops-bot-ssh-"));
}

/** The base64 lines of an OpenSSH private key: any one of them in a text is a leak. */
function keyLines(identity: string): string[] {
  return identity.split("\n").filter((line) => line && !line.startsWith("-----"));
}

function grepFiles(needle: string, dir: string): string {
  try {
    return execFileSync("grep", ["-rlF", needle, dir], { encoding: "utf8" });
  } catch {
    return "";
  }
}

describe("GitRepository sources over SSH", () => {
  let server: RunningSshGitServer;
  let root: string;

  beforeAll(async () => {
    server = await startSshGitServer();
    root = mkdtempSync(join(tmpdir(), "gitops-bot-sshrepos-"));
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  async function setUp(prefix: string, knownHosts: string, host?: string) {
    const api = testObjectApi();
    const ns = await createNamespace(api, prefix);
    const app = await createGitRepo(join(root, uniqueName("app")), {
      "deploy/cm.yaml": configMap("over-ssh", { via: "ssh" }),
    });
    const url = `${host ? server.urlPrefix.replace("@127.0.0.1:", `@${host}:`) : server.urlPrefix}${app.dir}`;
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "ssh-auth", namespace: ns },
      stringData: { identity: server.identity, known_hosts: knownHosts },
    });
    const cacheDir = mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-"));
    const repo = makeRepo({
      "clusters/dev/source.yaml": sshGitRepository("app", ns, url, "ssh-auth"),
      "clusters/dev/apps.yaml": fromSource("apps", ns, "app", "./deploy"),
    });
    const run = () =>
      reconcileTree(api, {
        ...defaultReconcileOptions(repo, "clusters/dev"),
        scope: uniqueName("scope"),
        cacheDir,
        // Only the policy's resolver knows `host`: git must connect to the address the policy checked.
        ...(host
          ? {
              outbound: createOutboundPolicy({}, async (h) =>
                h === host ? [{ address: "127.0.0.1", family: 4 }] : [],
              ),
            }
          : {}),
      });
    // What the bot reports: the URL without its user name.
    const shownUrl = url.replace(/\/\/[^@/]*@/, "//");
    return { api, ns, app, run, cacheDir, shownUrl };
  }

  it("fetches with the Secret's identity and known_hosts, and leaves no key on disk", async () => {
    const { api, ns, app, run, cacheDir, shownUrl } = await setUp("gitssh", server.knownHosts);
    const before = sshKeyDirs();

    const result = await run();

    expect(result.errors).toEqual([]);
    expect(result.kustomizations[0]).toMatchObject({
      status: "Ready",
      source: `GitRepository/${ns}/app@main@sha1:${app.sha}`,
    });
    expect(result.sources).toEqual([
      { kind: "GitRepository", name: "app", namespace: ns, url: shownUrl, revision: `main@sha1:${app.sha}` },
    ]);
    expect(await exists(api, "v1", "ConfigMap", "over-ssh", ns)).toBe(true);
    expect(sshKeyDirs()).toEqual(before);
    const lines = keyLines(server.identity);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(JSON.stringify(result)).not.toContain(line);
      expect(grepFiles(line, cacheDir)).toBe("");
    }
  }, 120_000);

  it("refuses a server whose host key is not the one in known_hosts, naming the source", async () => {
    const other = await generateSshKey(root, uniqueName("other-host-key"));
    const wrongKnownHosts = `[127.0.0.1]:${server.port} ${other.publicKey}\n`;
    const { api, ns, run, shownUrl } = await setUp("gitsshhost", wrongKnownHosts);
    const before = sshKeyDirs();

    const result = await run();

    const kustomization = result.kustomizations[0];
    expect(kustomization?.status).toBe("Failed");
    expect(kustomization?.message).toContain(`GitRepository/${ns}/app: fetching ${shownUrl}: `);
    expect(kustomization?.message).toContain("Host key verification failed");
    expect(result.sources?.[0]).toMatchObject({ name: "app", namespace: ns });
    expect(result.sources?.[0]?.revision).toBeUndefined();
    expect(await exists(api, "v1", "ConfigMap", "over-ssh", ns)).toBe(false);
    expect(sshKeyDirs()).toEqual(before);
    for (const line of keyLines(server.identity)) expect(JSON.stringify(result)).not.toContain(line);
  }, 120_000);

  it("connects to the address the outbound policy checked, keeping host keys under the name", async () => {
    const host = "git.pinned.invalid";
    const knownHosts = server.knownHosts.replace("[127.0.0.1]", `[${host}]`);
    const { ns, app, run } = await setUp("gitsshpin", knownHosts, host);

    const result = await run();

    expect(result.errors).toEqual([]);
    expect(result.kustomizations[0]).toMatchObject({
      status: "Ready",
      source: `GitRepository/${ns}/app@main@sha1:${app.sha}`,
    });
  }, 120_000);
});
