// Attacks on the source layer through the engine (reconcileTree, as a fork's pull request or a push runs it):
// includes through symlinks, cached private trees, hostile archives and digests, and servers that tarpit,
// serve endless bodies or redirect credentials elsewhere. Each must end within its bound with a clear error
// naming the object and field, touch nothing outside the cache, and show no private content.
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer as createTcpServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import type { RunResult } from "../../src/reconcile/result.js";
import { defaultReconcileOptions, type ReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { type FixtureMember, tarGzOf } from "../source/tar-fixture.js";
import { commitFiles, createGitRepo, startGitServer } from "../support/git-server.js";
import { helmReleaseYaml, helmRepositoryYaml } from "../support/helm-repo.js";
import { createNamespace, exists, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.allSettled(stops.splice(0).map((stop) => stop()));
});

const temp = (prefix: string) => mkdtempSync(join(tmpdir(), `gitops-bot-${prefix}-`));

/** A directory beside the cache with one file; the attacks aim at it. */
function canary() {
  const dir = temp("canary");
  writeFileSync(join(dir, "canary.txt"), "canary\n");
  return {
    dir,
    untouched: () =>
      readdirSync(dir).join(",") === "canary.txt" &&
      readFileSync(join(dir, "canary.txt"), "utf8") === "canary\n",
  };
}

function gitRepository(name: string, ns: string, url: string, extra: string): string {
  return `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  interval: 5m
  url: ${url}
${extra}`;
}

function ociRepository(name: string, ns: string, url: string, extra = ""): string {
  return `apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  interval: 5m
  url: ${url}
  insecure: true
${extra}`;
}

function fromSource(ns: string, kind: string, source: string, path: string): string {
  return fluxKustomization({
    name: "apps",
    namespace: ns,
    path,
    extra: `  targetNamespace: ${ns}\n`,
  }).replace("kind: GitRepository\n    name: flux-system", `kind: ${kind}\n    name: ${source}`);
}

/** How a fork's pull request runs: dry-run with diffs, no Secret readable. */
function forkRun(api: RawObjectApi, repo: string, cacheDir: string, extra: Partial<ReconcileOptions> = {}) {
  return reconcileTree(api, {
    ...defaultReconcileOptions(repo, "clusters/dev"),
    scope: uniqueName("scope"),
    cacheDir,
    dryRun: true,
    withDiff: true,
    untrusted: true,
    ...extra,
  });
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work;
  return { value, ms: Date.now() - started };
}

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** Accepts connections and never answers. */
async function tarpit(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  const port = await listen(server);
  stops.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `127.0.0.1:${port}`;
}

/** An HTTP server answering with `handler`; returns host:port. */
async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  const port = await listen(server);
  stops.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `127.0.0.1:${port}`;
}

/** Writes zeros until the client goes away. */
function endless(res: ServerResponse, contentType = "application/octet-stream"): void {
  res.writeHead(200, { "content-type": contentType });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const pump = () => {
    while (!res.destroyed && res.write(chunk)) {
      // keep writing while the socket takes it
    }
    if (!res.destroyed) res.once("drain", pump);
  };
  res.on("close", () => res.removeAllListeners("drain"));
  pump();
}

const sha256 = (data: Buffer | string) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** Pushes a Flux artifact whose single layer is `layer` (hand-made, possibly hostile) to the real registry. */
async function pushRawArtifact(
  host: string,
  repository: string,
  tag: string,
  layer: Buffer,
): Promise<string> {
  const put = async (data: Buffer) => {
    const digest = sha256(data);
    const start = await fetch(`http://${host}/v2/${repository}/blobs/uploads/`, { method: "POST" });
    const location = new URL(start.headers.get("location") as string, `http://${host}`);
    location.searchParams.set("digest", digest);
    const done = await fetch(location, { method: "PUT", body: data });
    if (done.status !== 201) throw new Error(`blob upload: HTTP ${done.status}`);
    return digest;
  };
  const config = Buffer.from("{}");
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.cncf.flux.config.v1+json", digest: await put(config), size: 2 },
      layers: [
        {
          mediaType: "application/vnd.cncf.flux.content.v1.tar+gzip",
          digest: await put(layer),
          size: layer.length,
        },
      ],
    }),
  );
  const res = await fetch(`http://${host}/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    body: manifest,
    headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
  });
  if (res.status !== 201) throw new Error(`manifest upload: HTTP ${res.status}`);
  return sha256(layer);
}

const message = (run: RunResult) => run.kustomizations[0]?.message ?? run.helmReleases?.[0]?.message ?? "";

describe("sources attacked through repository content", () => {
  it("row 3: include toPath through a symlink of the base repository (evil -> ../../..) writes nothing outside", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "sec-include");
    const target = canary();
    const cacheDir = temp("test-cache");
    const base = uniqueName("base-repo");
    const shared = uniqueName("shared-repo");
    const baseRepo = await createGitRepo(join(inject("gitRoot"), base), {
      "deploy/kustomization.yaml": "resources:\n  - ../evil/x/cm.yaml\n",
    });
    // From <cache>/git-included/<entry>.tmp-<id>/evil, three levels up is the cache's parent: the canary's.
    expect(dirname(cacheDir)).toBe(dirname(target.dir));
    symlinkSync(`../../../${basename(target.dir)}`, join(baseRepo.dir, "evil"));
    await commitFiles(baseRepo.dir, {}, "evil symlink");
    await createGitRepo(join(inject("gitRoot"), shared), {
      "manifests/cm.yaml": configMap("included", { from: "shared" }),
    });
    const url = (name: string) => `${inject("gitServerUrl")}/${name}`;
    const repo = makeRepo({
      "clusters/dev/sources.yaml": `${gitRepository(
        "base",
        ns,
        url(base),
        "  ref:\n    branch: main\n  include:\n    - repository:\n        name: shared\n      fromPath: manifests\n      toPath: evil/x\n",
      )}---\n${gitRepository("shared", ns, url(shared), "  ref:\n    branch: main\n")}`,
      "clusters/dev/apps.yaml": fromSource(ns, "GitRepository", "base", "./deploy"),
    });
    for (const run of [
      forkRun(api, repo, cacheDir),
      forkRun(api, repo, cacheDir, { untrusted: false, dryRun: false }),
    ]) {
      const result = await run;
      expect(result.kustomizations[0]?.status).toBe("Failed");
      expect(message(result)).toBe(
        `GitRepository/${ns}/base: spec.include[0].toPath "evil/x" leads outside the artifact through the symlink evil; refused`,
      );
    }
    expect(target.untouched()).toBe(true);
    expect(await exists(api, "v1", "ConfigMap", "included", ns)).toBe(false);
  });

  it("row 3 (reading): include fromPath through a symlink of the included repository reads nothing outside", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "sec-include-read");
    const secretDir = canary();
    const base = uniqueName("base-repo");
    const shared = uniqueName("shared-repo");
    await createGitRepo(join(inject("gitRoot"), base), { "deploy/kustomization.yaml": "resources: []\n" });
    const sharedRepo = await createGitRepo(join(inject("gitRoot"), shared), { "README.md": "shared\n" });
    symlinkSync(secretDir.dir, join(sharedRepo.dir, "manifests"));
    await commitFiles(sharedRepo.dir, {}, "absolute symlink out");
    const url = (name: string) => `${inject("gitServerUrl")}/${name}`;
    const repo = makeRepo({
      "clusters/dev/sources.yaml": `${gitRepository(
        "base",
        ns,
        url(base),
        "  ref:\n    branch: main\n  include:\n    - repository:\n        name: shared\n      fromPath: manifests\n      toPath: common\n",
      )}---\n${gitRepository("shared", ns, url(shared), "  ref:\n    branch: main\n")}`,
      "clusters/dev/apps.yaml": fromSource(ns, "GitRepository", "base", "./common"),
    });
    const result = await forkRun(api, repo, temp("test-cache"));
    expect(result.kustomizations[0]?.status).toBe("Failed");
    expect(message(result)).toContain(
      `GitRepository/${ns}/base: spec.include[0].fromPath: path "manifests" leads outside`,
    );
    expect(JSON.stringify(result)).not.toContain("canary");
  });

  it("#5: a private tree cached by an authenticated run is never served to a fork naming its URL and commit", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "sec-cache");
    const root = temp("private-git");
    const password = "pr1vate-git-pass";
    const server = await startGitServer(root, { auth: { user: "bot", password } });
    stops.push(() => server.stop());
    const privateValue = "private-canary-7f3a9";
    const { sha } = await createGitRepo(join(root, "private"), {
      "deploy/p.yaml": configMap("private", { value: privateValue }),
    });
    const url = `${server.url}/private`;
    const cacheDir = temp("test-cache");
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "git-auth", namespace: ns },
      stringData: { username: "bot", password },
    });
    const tree = (ref: string, secret: string) =>
      makeRepo({
        "clusters/dev/source.yaml": gitRepository("private", ns, url, `  ref:\n${ref}${secret}`),
        "clusters/dev/apps.yaml": fromSource(ns, "GitRepository", "private", "./deploy"),
      });
    const trusted = await reconcileTree(api, {
      ...defaultReconcileOptions(
        tree("    branch: main\n", "  secretRef:\n    name: git-auth\n"),
        "clusters/dev",
      ),
      scope: uniqueName("scope"),
      cacheDir,
    });
    expect(trusted.kustomizations[0]).toMatchObject({ status: "Ready" });

    // The fork: same URL, the commit it saw somewhere, no credentials; and again with a branch.
    for (const ref of [
      `    commit: ${sha}\n`,
      `    branch: main\n    commit: ${sha}\n`,
      "    branch: main\n",
    ]) {
      const { value: fork, ms } = await timed(forkRun(api, tree(ref, ""), cacheDir));
      expect(fork.kustomizations[0]?.status).toBe("Failed");
      expect(message(fork)).toMatch(
        new RegExp(
          `^GitRepository/${ns}/private: fetching ${url}: .*(could not read Username|Authentication failed|401)`,
        ),
      );
      expect(JSON.stringify(fork)).not.toContain(privateValue);
      expect(ms).toBeLessThan(30_000);
    }
    // Another repository's run with other credentials for the same URL and commit is not served either.
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "other-auth", namespace: ns },
      stringData: { username: "bot", password: "guessed" },
    });
    const other = await reconcileTree(api, {
      ...defaultReconcileOptions(
        tree(`    commit: ${sha}\n`, "  secretRef:\n    name: other-auth\n"),
        "clusters/dev",
      ),
      scope: uniqueName("scope"),
      cacheDir,
      dryRun: true,
      withDiff: true,
    });
    expect(other.kustomizations[0]?.status).toBe("Failed");
    expect(JSON.stringify(other)).not.toContain(privateValue);
  }, 120_000);

  it("row 6 (git): a git server that accepts and never answers ends at the source's timeout", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "sec-git-tarpit");
    const host = await tarpit();
    const repo = makeRepo({
      "clusters/dev/source.yaml": gitRepository(
        "x",
        ns,
        `http://${host}/x`,
        "  timeout: 2s\n  ref:\n    branch: main\n",
      ),
      "clusters/dev/apps.yaml": fromSource(ns, "GitRepository", "x", "./"),
    });
    const { value, ms } = await timed(forkRun(api, repo, temp("test-cache")));
    expect(message(value)).toBe(`GitRepository/${ns}/x: fetching http://${host}/x: timed out after 2 s`);
    expect(ms).toBeLessThan(15_000);
  });

  it("row 6 (OCI): a registry that tarpits, or serves an endless manifest, ends within its bound", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "sec-oci-endless");
    const pit = await tarpit();
    const flood = await httpServer((req, res) => {
      if (req.url === "/v2/") return void res.writeHead(200).end("{}");
      endless(res, "application/vnd.oci.image.manifest.v1+json");
    });
    const cases: [string, string, RegExp][] = [
      [
        pit,
        "  timeout: 2s\n",
        new RegExp(
          `^OCIRepository/${ns}/x: ${pit}/app: GET http://${pit}/v2/app/manifests/latest: timed out after 2 s$`,
        ),
      ],
      [
        flood,
        "  timeout: 60s\n",
        /\/v2\/app\/manifests\/latest: the answer is larger than the 4194304-byte limit$/,
      ],
    ];
    for (const [host, extra, expected] of cases) {
      const repo = makeRepo({
        "clusters/dev/source.yaml": ociRepository("x", ns, `oci://${host}/app`, extra),
        "clusters/dev/apps.yaml": fromSource(ns, "OCIRepository", "x", "./"),
      });
      const { value, ms } = await timed(forkRun(api, repo, temp("test-cache")));
      expect(value.kustomizations[0]?.status).toBe("Failed");
      expect(message(value)).toMatch(expected);
      expect(ms).toBeLessThan(20_000);
    }
  });

  it("row 6 (Helm): a Helm repository serving an endless index ends at its size bound", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "sec-helm-endless");
    const host = await httpServer((_req, res) => endless(res, "text/yaml"));
    const repo = makeRepo({
      "clusters/dev/charts.yaml": helmRepositoryYaml("charts", ns, `http://${host}/`),
      "clusters/dev/release.yaml": helmReleaseYaml({ name: "demo", namespace: ns }),
    });
    const { value, ms } = await timed(forkRun(api, repo, temp("test-cache")));
    expect(value.helmReleases?.[0]?.status).toBe("Failed");
    expect(message(value)).toContain(
      `HelmRepository/${ns}/charts: GET http://${host}/index.yaml: the answer is larger than the 67108864-byte limit`,
    );
    expect(ms).toBeLessThan(30_000);
  });

  it.each<[string, FixtureMember[], string]>([
    [
      "a symlink out and a file through it",
      [
        { type: "symlink", path: "evil", target: "../../../.." },
        { path: "evil/canary.txt", content: "owned" },
      ],
      'symlink "evil" -> "../../../.." leads outside the archive; refused',
    ],
    [
      "a .. member",
      [{ path: "../../../escaped.yaml", content: "owned" }],
      'member "../../../escaped.yaml" contains ".."; refused',
    ],
    [
      "an absolute member",
      [{ path: "/tmp/escaped.yaml", content: "owned" }],
      'member "/tmp/escaped.yaml" has an absolute path; refused',
    ],
    [
      "a hard link to a host file",
      [{ type: "hardlink", path: "passwd", target: "../../../../../../etc/passwd" }],
      'contains ".."; refused',
    ],
  ])(
    "an OCI artifact layer with %s is refused and writes nothing outside",
    async (_what, members, reason) => {
      const api = testObjectApi();
      const ns = await createNamespace(api, "sec-oci-layer");
      const target = canary();
      const host = inject("registryHost");
      const repository = uniqueName("hostile");
      const layer = tarGzOf([{ path: "ok.yaml", content: configMap("ok", { v: "1" }) }, ...members]);
      const digest = await pushRawArtifact(host, repository, "v1", layer);
      const repo = makeRepo({
        "clusters/dev/source.yaml": ociRepository(
          "hostile",
          ns,
          `oci://${host}/${repository}`,
          "  ref:\n    tag: v1\n",
        ),
        "clusters/dev/apps.yaml": fromSource(ns, "OCIRepository", "hostile", "./"),
      });
      const result = await forkRun(api, repo, temp("test-cache"));
      expect(result.kustomizations[0]?.status).toBe("Failed");
      expect(message(result)).toContain(`OCIRepository/${ns}/hostile: OCI layer ${digest}: `);
      expect(message(result)).toContain(reason);
      expect(target.untouched()).toBe(true);
    },
  );

  it("an OCI layer digest that is not sha256:<64 hex> names no path and no URL", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "sec-oci-digest");
    const requests: string[] = [];
    const host = await httpServer((req, res) => {
      requests.push(req.url ?? "");
      if (req.url?.startsWith("/v2/app/manifests/")) {
        res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" });
        res.end(
          JSON.stringify({
            schemaVersion: 2,
            layers: [
              {
                mediaType: "application/vnd.cncf.flux.content.v1.tar+gzip",
                digest: "sha256:../../../../tmp/x",
              },
            ],
          }),
        );
      } else res.writeHead(404).end();
    });
    const cacheDir = temp("test-cache");
    const repo = makeRepo({
      "clusters/dev/source.yaml": ociRepository("x", ns, `oci://${host}/app`, "  ref:\n    tag: v1\n"),
      "clusters/dev/apps.yaml": fromSource(ns, "OCIRepository", "x", "./"),
    });
    const result = await forkRun(api, repo, cacheDir);
    expect(message(result)).toBe(
      `OCIRepository/${ns}/x: ${host}/app:v1: layers[0]: digest "sha256:../../../../tmp/x" is not sha256:<64 hex digits>`,
    );
    expect(requests.filter((r) => r.includes("/blobs/"))).toEqual([]);
    expect(readdirSync(cacheDir).filter((e) => !e.startsWith("."))).toEqual([]);
  });

  it("credentials for a Helm repository never follow a redirect to another host", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "sec-helm-redirect");
    const seen: (string | undefined)[] = [];
    const elsewhere = await httpServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(404).end();
    });
    const repoHost = await httpServer((req, res) => {
      if (!req.headers.authorization) return void res.writeHead(401, { "www-authenticate": "Basic" }).end();
      res.writeHead(302, { location: `http://${elsewhere}/index.yaml` }).end();
    });
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "charts-auth", namespace: ns },
      stringData: { username: "bot", password: "helm-redirect-pass" },
    });
    const repo = makeRepo({
      "clusters/dev/charts.yaml": helmRepositoryYaml(
        "charts",
        ns,
        `http://${repoHost}/`,
        "  secretRef:\n    name: charts-auth\n",
      ),
      "clusters/dev/release.yaml": helmReleaseYaml({ name: "demo", namespace: ns }),
    });
    const result = await forkRun(api, repo, temp("test-cache"), { untrusted: false });
    expect(message(result)).toContain(`GET http://${elsewhere}/index.yaml: HTTP 404`);
    expect(seen).toEqual([undefined]);
    expect(JSON.stringify(result)).not.toContain("helm-redirect-pass");
  });

  it("sources never reach link-local or cloud metadata addresses", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "sec-metadata");
    const repo = makeRepo({
      "clusters/dev/sources.yaml": [
        gitRepository("git", ns, "http://169.254.169.254/latest/meta-data", "  ref:\n    branch: main\n"),
        ociRepository("oci", ns, "oci://169.254.169.254/app"),
        helmRepositoryYaml("charts", ns, "http://[fd00:ec2::254]/"),
      ].join("---\n"),
      "clusters/dev/apps.yaml": fromSource(ns, "GitRepository", "git", "./"),
      "clusters/dev/oci.yaml": fromSource(ns, "OCIRepository", "oci", "./").replace(
        "name: apps",
        "name: oci-apps",
      ),
      "clusters/dev/release.yaml": helmReleaseYaml({ name: "demo", namespace: ns }),
    });
    const { value, ms } = await timed(forkRun(api, repo, temp("test-cache")));
    const messages = [...value.kustomizations, ...(value.helmReleases ?? [])].map((r) => r.message).sort();
    const metadata = "169.254.169.254 is a link-local (cloud metadata) address";
    expect(messages).toEqual([
      `GitRepository/${ns}/git: fetching http://169.254.169.254/latest/meta-data: refused by the outbound policy: ${metadata}`,
      `HelmRelease/${ns}/demo: chart: HelmRepository/${ns}/charts: GET http://[fd00:ec2::254]/index.yaml: refused by the outbound policy: fd00:ec2::254 is a cloud metadata address`,
      `OCIRepository/${ns}/oci: 169.254.169.254/app: GET http://169.254.169.254/v2/app/manifests/latest: refused by the outbound policy: ${metadata}`,
    ]);
    expect(ms).toBeLessThan(10_000);
  });

  it("a registry's token realm on another host is asked without the pull secret", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "sec-oci-realm");
    const password = "realm-canary-pass";
    const realmSaw: (string | undefined)[] = [];
    const realm = await httpServer((req, res) => {
      realmSaw.push(req.headers.authorization);
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ token: "anonymous-token" }));
    });
    const registrySaw: (string | undefined)[] = [];
    const registry = await httpServer((req, res) => {
      registrySaw.push(req.headers.authorization);
      if (req.headers.authorization === "Bearer anonymous-token") return void res.writeHead(404).end();
      res
        .writeHead(401, {
          "www-authenticate": `Bearer realm="http://${realm.replace("127.0.0.1", "localhost")}/token",service="evil"`,
        })
        .end();
    });
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/dockerconfigjson",
      metadata: { name: "pull", namespace: ns },
      stringData: {
        ".dockerconfigjson": JSON.stringify({
          auths: { [registry]: { auth: Buffer.from(`puller:${password}`).toString("base64") } },
        }),
      },
    });
    const repo = makeRepo({
      "clusters/dev/source.yaml": ociRepository(
        "x",
        ns,
        `oci://${registry}/app`,
        "  secretRef:\n    name: pull\n",
      ),
      "clusters/dev/apps.yaml": fromSource(ns, "OCIRepository", "x", "./"),
    });
    const result = await forkRun(api, repo, temp("test-cache"), { untrusted: false });
    expect(message(result)).toContain(`OCIRepository/${ns}/x: ${registry}/app/manifests/latest: HTTP 404`);
    expect(realmSaw).toEqual([undefined]);
    expect(registrySaw[0]).toBe(`Basic ${Buffer.from(`puller:${password}`).toString("base64")}`);
    expect(JSON.stringify(result)).not.toContain(password);
  });

  it("git never uses the host's credential helpers, git config, HOME or ssh-agent", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "sec-git-host");
    const root = temp("private-git");
    const password = "h0st-helper-pass";
    const server = await startGitServer(root, { auth: { user: "bot", password } });
    stops.push(() => server.stop());
    await createGitRepo(join(root, "private"), { "deploy/p.yaml": configMap("private", { v: "1" }) });
    // The host (the bot's own process) is set up the way a developer machine or a CI runner might be.
    const home = temp("host-home");
    writeFileSync(join(home, ".git-credentials"), `http://bot:${password}@${new URL(server.url).host}\n`);
    writeFileSync(join(home, ".gitconfig"), "[credential]\n\thelper = store\n");
    const saved = { ...process.env };
    Object.assign(process.env, {
      HOME: home,
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "credential.helper",
      GIT_CONFIG_VALUE_0: `!f() { echo username=bot; echo password=${password}; }; f`,
      SSH_AUTH_SOCK: join(home, "agent.sock"),
      GIT_ASKPASS: "",
    });
    try {
      const repo = makeRepo({
        "clusters/dev/source.yaml": gitRepository(
          "private",
          ns,
          `${server.url}/private`,
          "  ref:\n    branch: main\n",
        ),
        "clusters/dev/apps.yaml": fromSource(ns, "GitRepository", "private", "./deploy"),
      });
      const result = await forkRun(api, repo, temp("test-cache"));
      expect(result.kustomizations[0]?.status).toBe("Failed");
      expect(message(result)).toMatch(
        /could not read Username|Authentication failed|terminal prompts disabled/,
      );
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});
