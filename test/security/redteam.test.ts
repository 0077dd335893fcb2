// Red-team pass over the trust boundary (issue #9): variants of the table's rows and of the classes below it
// that the area suites do not try, each through the entry point a user hits (the CLI, the engine as a fork's
// pull request runs it, probot.receive) against the real API server, git server, helm and kustomize. Every
// test here is an attack that is refused: it asserts the refusal (file, object, field where there is one),
// that it ends within its bound, and that canaries — a Secret value, a host file, a denied server — are
// neither shown nor reached nor touched.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer as createTcpServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import type { RunResult } from "../../src/reconcile/result.js";
import { defaultReconcileOptions, type ReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { cli } from "../support/cli.js";
import { INSTALLATION, startBot } from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { helmReleaseYaml, writeChart } from "../support/helm-repo.js";
import { createNamespace, exists, testKubeConfig, testObjectApi, uniqueName } from "../support/kube.js";
import { receive, webhookExample } from "../support/probot.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

const stops: (() => Promise<void>)[] = [];
let github: GitHubMock | undefined;
afterEach(async () => {
  github?.cleanup();
  github = undefined;
  await Promise.allSettled(stops.splice(0).map((stop) => stop()));
});

const temp = (prefix: string) => mkdtempSync(join(tmpdir(), `gitops-bot-${prefix}-`));
const canaryValue = () => `rt-canary-${randomBytes(10).toString("hex")}`;
const base64 = (s: string) => Buffer.from(s).toString("base64");

function expectClean(text: string, canary: string): void {
  for (const form of [canary, base64(canary), base64(canary).replace(/=+$/, "")]) {
    expect(text).not.toContain(form);
  }
}

/** A host directory with one canary file; attacks aim at it. */
function hostCanary() {
  const dir = temp("rt-host");
  const secret = canaryValue();
  writeFileSync(join(dir, "secret.txt"), secret);
  return {
    dir,
    secret,
    untouched: () =>
      readdirSync(dir).join(",") === "secret.txt" && readFileSync(join(dir, "secret.txt"), "utf8") === secret,
  };
}

/** How a fork's pull request runs the engine: a dry-run with diffs that reads no Secret. */
function forkRun(api: RawObjectApi, repo: string, extra: Partial<ReconcileOptions> = {}): Promise<RunResult> {
  return reconcileTree(api, {
    ...defaultReconcileOptions(repo, "clusters/dev"),
    scope: uniqueName("scope"),
    cacheDir: temp("rt-cache"),
    kubeConfig: testKubeConfig(),
    dryRun: true,
    withDiff: true,
    untrusted: true,
    ...extra,
  });
}

/** Every message a run carries (Kustomizations, HelmReleases, run errors). */
function messages(run: RunResult): string {
  return [
    ...run.errors,
    ...run.kustomizations.map((k) => k.message),
    ...(run.helmReleases ?? []).map((h) => h.message),
  ].join("\n");
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work;
  return { value, ms: Date.now() - started };
}

/** An HTTP server on loopback that records every request; returns host:port. */
async function recorder(
  handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => void res.writeHead(404).end(),
): Promise<{ host: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? "");
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  stops.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

/** Accepts TCP connections and never answers. */
async function tarpit(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  stops.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const gitRepository = (name: string, ns: string, url: string, extra = "  ref:\n    branch: main\n") =>
  `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  interval: 5m
  url: ${JSON.stringify(url)}
${extra}`;

const fromSource = (ns: string, kind: string, source: string, path = "./") =>
  fluxKustomization({ name: "apps", namespace: ns, path, extra: `  targetNamespace: ${ns}\n` }).replace(
    "kind: GitRepository\n    name: flux-system",
    `kind: ${kind}\n    name: ${source}`,
  );

const kustomization = (body: string) =>
  `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${body}`;

describe("kustomize references that reach the host or the network (rows 2, 8)", () => {
  it.each<[string, (rel: string) => string, string]>([
    [
      "configMapGenerator.files /etc/passwd",
      () => "configMapGenerator:\n- name: x\n  files:\n  - /etc/passwd\n",
      "configMapGenerator[0].files[0]",
    ],
    [
      "configMapGenerator.files key=../…/host file",
      (rel) => `configMapGenerator:\n- name: x\n  files:\n  - k=${rel}\n`,
      "configMapGenerator[0].files[0]",
    ],
    [
      "secretGenerator.envs ../…/host file",
      (rel) => `secretGenerator:\n- name: x\n  envs:\n  - ${rel}\n`,
      "secretGenerator[0].envs[0]",
    ],
    [
      "configMapGenerator.env /etc/hostname",
      () => "configMapGenerator:\n- name: x\n  env: /etc/hostname\n",
      "configMapGenerator[0].env",
    ],
    [
      "patches[].path ../…/host file",
      (rel) => `resources:\n- cm.yaml\npatches:\n- path: ${rel}\n`,
      "patches[0].path",
    ],
    ["resources: ../…/host dir", (rel) => `resources:\n- ${dirname(rel)}\n`, "resources[0]"],
    ["a NUL in a resource", () => 'resources:\n- "cm.yaml\\u0000x"\n', "resources[0]"],
  ])(
    "CLI build: %s is refused naming the field; the host file is neither shown nor touched",
    async (_label, body, field) => {
      const host = hostCanary();
      const repo = makeRepo({
        "clusters/dev/apps.yaml": fluxKustomization({
          name: "apps",
          namespace: "flux-system",
          path: "./apps",
        }),
        "apps/cm.yaml": configMap("settings", { color: "blue" }),
      });
      const rel = `${"../".repeat(12)}${host.dir.replace(/^\//, "")}/secret.txt`;
      writeFileSync(join(repo, "apps/kustomization.yaml"), kustomization(body(rel)));
      const { code, out, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
      expect(code).toBe(2);
      expect(err).toContain(`Kustomization/flux-system/apps: apps/kustomization.yaml: ${field}: `);
      expect(err).toMatch(/leads outside the tree|absolute path|contains NUL/);
      expect(out + err).not.toContain(host.secret);
      expect(host.untouched()).toBe(true);
    },
  );

  it.each([
    "github.com/org/repo",
    "GitHub.com/org/repo//deploy",
    "github.com:org/repo",
    "git@github.com:org/repo.git",
    "ssh://git@127.0.0.1/repo",
    "git::https://127.0.0.1/repo",
    "HTTPS://127.0.0.1/x.yaml",
    "file:///etc",
    "gh:org/repo",
    "deploy?ref=main",
  ])("engine (fork): resources: [%s] is a remote reference, refused before kustomize runs", async (ref) => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt-remote");
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fromSource(ns, "GitRepository", "flux-system", "./apps"),
      "apps/kustomization.yaml": kustomization(`resources:\n- ${JSON.stringify(ref)}\n`),
    });
    const { value: run, ms } = await timed(forkRun(api, repo));
    expect(run.kustomizations[0]?.status).toBe("Failed");
    expect(messages(run)).toContain(
      `apps/kustomization.yaml: resources[0]: ${JSON.stringify(ref)} is a remote reference`,
    );
    expect(ms).toBeLessThan(15_000);
  });

  it("CLI build: a component climbing above the repository through spec.path's depth is refused when parsed", async () => {
    const host = hostCanary();
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: "flux-system",
        path: "./apps",
        extra: `  components:\n    - ../../${basename(host.dir)}\n`,
      }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const { code, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(code).toBe(2);
    expect(err).toContain(
      `clusters/dev/apps.yaml: Kustomization/flux-system/apps: spec.components[0]: "../../${basename(host.dir)}" is not a valid path (leaves the root through '..')`,
    );
    expect(host.untouched()).toBe(true);
  });

  it.each([
    ["a NUL", "apps\u0000"],
    ["a newline", "apps\n/../../etc"],
    ["a URL", "https://127.0.0.1/apps"],
    ["an absolute path", "/etc"],
  ])("CLI build: spec.path with %s is refused as an invalid path", async (_label, path) => {
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: "flux-system",
        path: JSON.stringify(path),
      }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const { code, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(code).toBe(2);
    expect(err).toContain(
      `clusters/dev/apps.yaml: Kustomization/flux-system/apps: spec.path: ${JSON.stringify(path)} is not a valid path`,
    );
  });

  it("engine (fork): a symlink in the PR's own tree to a host directory, used as spec.path, is refused; nothing is read", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt-link");
    const host = hostCanary();
    writeFileSync(join(host.dir, "cm.yaml"), configMap("stolen", { v: host.secret }));
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fromSource(ns, "GitRepository", "flux-system", "./linked"),
    });
    symlinkSync(host.dir, join(repo, "linked"));
    symlinkSync("/etc", join(repo, "etc"));
    let text: string;
    try {
      text = JSON.stringify(await forkRun(api, repo));
    } catch (err) {
      text = (err as Error).message;
    }
    expect(text).toMatch(/symbolic link|symlink/);
    expect(text).not.toContain(host.secret);
    expect(await exists(api, "v1", "ConfigMap", "stolen", ns)).toBe(false);
  });
});

describe("YAML bombs (bounded work)", () => {
  const bomb = (levels: number) => {
    const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i <= levels; i++) {
      lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(",")}]`);
    }
    return lines.join("\n");
  };

  it("engine (fork): a billion-laughs manifest beside the Flux objects ends quickly with a clear error", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt-bomb");
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fromSource(ns, "GitRepository", "flux-system", "./apps"),
      "clusters/dev/bomb.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n${bomb(9).replace(/^/gm, "")}\n`,
      "apps/cm.yaml": configMap("ok", { a: "1" }),
    });
    let text: string;
    const started = Date.now();
    try {
      text = messages(await forkRun(api, repo));
    } catch (err) {
      text = (err as Error).message;
    }
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(text).toContain("clusters/dev/bomb.yaml");
    expect(text).toMatch(/alias/i);
  });

  it("engine (fork): a billion-laughs resource that kustomize would read is refused before kustomize runs", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt-bomb");
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fromSource(ns, "GitRepository", "flux-system", "./apps"),
      "apps/kustomization.yaml": kustomization("resources:\n- bomb.yaml\n"),
      "apps/bomb.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  x: y\nextra:\n${bomb(9).replace(/^/gm, "  ")}\n`,
    });
    const { value: run, ms } = await timed(forkRun(api, repo, { kustomize: { timeoutMs: 10_000 } }));
    expect(ms).toBeLessThan(30_000);
    expect(run.kustomizations[0]?.status).toBe("Failed");
    expect(run.kustomizations[0]?.message).toContain("apps/bomb.yaml: YAML aliases expand too far");
  });

  it("engine (fork): a HelmRelease whose values are an alias bomb is refused when parsed", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt-bomb");
    const repo = makeRepo({
      "clusters/dev/app.yaml": `${helmReleaseYaml({ name: "app", namespace: ns, chart: "./charts/app", sourceKind: "GitRepository", repo: "flux-system" })}  values:\n${bomb(9).replace(/^/gm, "    ")}\n`,
    });
    writeChart(join(repo, "charts"), { name: "app", version: "1.0.0" });
    const { value: run, ms } = await timed(forkRun(api, repo));
    expect(ms).toBeLessThan(20_000);
    expect(messages(run)).toContain("clusters/dev/app.yaml");
    expect(messages(run)).toMatch(/alias/i);
    expect(run.helmReleases?.some((h) => h.status === "Ready") ?? false).toBe(false);
  });
});

describe("names and arguments (rows 2, 5)", () => {
  it.each<[string, string, string]>([
    ["releaseName --set", "  releaseName: --set=image.tag=evil\n", "spec.releaseName"],
    ["releaseName with uppercase", "  releaseName: App\n", "spec.releaseName"],
    [
      "targetNamespace with a unicode hyphen",
      "  targetNamespace: kube\u2010system\n",
      "spec.targetNamespace",
    ],
    ["targetNamespace in upper case", "  targetNamespace: KUBE-SYSTEM\n", "spec.targetNamespace"],
    ["storageNamespace elsewhere", "  storageNamespace: kube-system\n", "spec.storageNamespace"],
  ])("engine (fork): a HelmRelease with %s is refused naming the field", async (_label, extra, field) => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt-hrname");
    const repo = makeRepo({
      "clusters/dev/app.yaml": helmReleaseYaml({
        name: "app",
        namespace: ns,
        chart: "./charts/app",
        sourceKind: "GitRepository",
        repo: "flux-system",
        extra,
      }),
    });
    writeChart(join(repo, "charts"), { name: "app", version: "1.0.0" });
    const run = await forkRun(api, repo);
    expect(messages(run)).toContain(`clusters/dev/app.yaml: HelmRelease/${ns}/app: ${field}`);
    expect(run.helmReleases?.some((h) => h.status === "Ready") ?? false).toBe(false);
  });

  it.each([
    ["a chart version --post-renderer", "--post-renderer=/bin/sh", "demo", "spec.chart.spec.version"],
    ["a chart path out of the source", "*", "../../../../etc", "spec.chart.spec.chart"],
  ])(
    "engine (fork): %s is refused naming the field; no helm argument is made of it",
    async (_l, version, chart, field) => {
      const api = testObjectApi();
      const ns = await createNamespace(api, "rt-hrarg");
      const host = hostCanary();
      const repo = makeRepo({
        "clusters/dev/app.yaml": helmReleaseYaml({
          name: "app",
          namespace: ns,
          chart: chart === "demo" ? "./charts/demo" : chart,
          version,
          sourceKind: "GitRepository",
          repo: "flux-system",
        }),
      });
      writeChart(join(repo, "charts"), { name: "demo", version: "1.0.0" });
      const run = await forkRun(api, repo);
      expect(messages(run)).toContain(`clusters/dev/app.yaml: HelmRelease/${ns}/app: ${field}`);
      expect(host.untouched()).toBe(true);
    },
  );

  it.each([
    [
      "Kustomization",
      (ns: string) => fluxKustomization({ name: "Apps", namespace: ns, path: "./apps" }),
      "metadata.name",
    ],
    [
      "Kustomization (fullwidth)",
      (ns: string) => fluxKustomization({ name: "\uff41pps", namespace: ns, path: "./apps" }),
      "metadata.name",
    ],
    [
      "Kustomization (cyrillic a)",
      (ns: string) => fluxKustomization({ name: "\u0430pps", namespace: ns, path: "./apps" }),
      "metadata.name",
    ],
    [
      "Kustomization serviceAccountName",
      (ns: string) =>
        fluxKustomization({
          name: "apps",
          namespace: ns,
          path: "./apps",
          extra: "  serviceAccountName: system:admin\n",
        }),
      "spec.serviceAccountName",
    ],
  ])(
    "engine (fork): a %s with a lookalike or invalid name is refused naming the field",
    async (_l, yaml, field) => {
      const api = testObjectApi();
      const ns = await createNamespace(api, "rt-lookalike");
      const repo = makeRepo({
        "clusters/dev/apps.yaml": yaml(ns),
        "apps/cm.yaml": configMap("x", { a: "1" }),
      });
      const run = await forkRun(api, repo);
      expect(messages(run)).toContain(`: ${field}: `);
      expect(run.kustomizations.filter((k) => k.status === "Ready")).toEqual([]);
    },
  );
});

describe("sources named by a fork (rows 3, 6, 9; outbound policy)", () => {
  it.each([
    "http://169.254.169.254./latest",
    "http://0xa9fea9fe/latest",
    "http://2852039166/latest",
    "http://[::ffff:169.254.169.254]/latest",
    "https://169.254.170.2/v2/credentials",
    "ssh://git@169.254.169.254/repo",
    "http://[fd00:ec2::254]/latest",
  ])("a GitRepository at %s is refused by the outbound policy before git runs", async (url) => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt-imds");
    const repo = makeRepo({
      "clusters/dev/source.yaml": gitRepository("x", ns, url),
      "clusters/dev/apps.yaml": fromSource(ns, "GitRepository", "x"),
    });
    const { value: run, ms } = await timed(forkRun(api, repo));
    expect(run.kustomizations[0]?.status).toBe("Failed");
    expect(messages(run)).toContain(`GitRepository/${ns}/x: fetching `);
    expect(messages(run)).toContain("refused by the outbound policy");
    expect(ms).toBeLessThan(10_000);
  });

  it.each([
    ["ext:: (runs a command)", (f: string) => `ext::sh -c touch% ${f}`],
    ["file://", () => "file:///etc"],
    ["a local path", () => "/etc"],
    ["an option as the URL", (f: string) => `--upload-pack=touch ${f}`],
  ])("a GitRepository URL with %s runs nothing and reads nothing", async (_label, url) => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt-giturl");
    const marker = join(temp("rt-marker"), "pwned");
    const repo = makeRepo({
      "clusters/dev/source.yaml": gitRepository("x", ns, url(marker)),
      "clusters/dev/apps.yaml": fromSource(ns, "GitRepository", "x"),
    });
    let text: string;
    try {
      text = messages(await forkRun(api, repo));
    } catch (err) {
      text = (err as Error).message;
    }
    expect(text).toContain(`GitRepository/${ns}/x`);
    expect(existsSync(marker)).toBe(false);
  });

  it.each([
    ["branch", "  ref:\n    branch: --upload-pack=touch MARKER\n"],
    ["tag", "  ref:\n    tag: -c core.sshCommand=touch MARKER\n"],
    ["commit", "  ref:\n    commit: --output=MARKER\n"],
  ])("a git ref %s that would be an option is refused when parsed; no file is made", async (_l, ref) => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt-gitref");
    const server = await recorder();
    const marker = join(temp("rt-marker"), "pwned");
    const repo = makeRepo({
      "clusters/dev/source.yaml": gitRepository(
        "x",
        ns,
        `http://${server.host}/r.git`,
        ref.replace("MARKER", marker),
      ),
      "clusters/dev/apps.yaml": fromSource(ns, "GitRepository", "x"),
    });
    const run = await forkRun(api, repo);
    expect(messages(run)).toMatch(new RegExp(`GitRepository/${ns}/x: spec\\.ref\\.`));
    expect(existsSync(marker)).toBe(false);
    expect(server.requests).toEqual([]);
  });

  it("a git server redirecting to another host: git follows no redirect, so the other host gets nothing", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt-gitredirect");
    const password = canaryValue();
    const elsewhere: (string | undefined)[] = [];
    const other = await recorder((req, res) => {
      elsewhere.push(req.headers.authorization);
      res.writeHead(404).end();
    });
    const otherUrl = `http://${other.host.replace("127.0.0.1", "localhost")}`;
    const front = await recorder(
      (req, res) => void res.writeHead(302, { location: `${otherUrl}${req.url}` }).end(),
    );
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "git-auth", namespace: ns },
      stringData: { username: "bot", password },
    });
    const repo = makeRepo({
      "clusters/dev/source.yaml": gitRepository(
        "x",
        ns,
        `http://${front.host}/repo`,
        "  secretRef:\n    name: git-auth\n  ref:\n    branch: main\n",
      ),
      "clusters/dev/apps.yaml": fromSource(ns, "GitRepository", "x"),
    });
    const run = await forkRun(api, repo, { untrusted: false });
    expect(run.kustomizations[0]?.status).toBe("Failed");
    expect(front.requests.length).toBeGreaterThan(0);
    expect(elsewhere).toEqual([]);
    expect(messages(run)).toContain("git follows no redirect");
    expectClean(JSON.stringify(run), password);
  });

  it("a loopback tarpit with spec.timeout 1000000h ends at the operator's cap", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt-tarpit");
    const pit = await tarpit();
    const repo = makeRepo({
      "clusters/dev/source.yaml": gitRepository(
        "x",
        ns,
        `http://${pit}/x`,
        "  timeout: 1000000h\n  ref:\n    branch: main\n",
      ),
      "clusters/dev/apps.yaml": fromSource(ns, "GitRepository", "x"),
    });
    const { value: run, ms } = await timed(forkRun(api, repo, { maxSourceTimeoutMs: 2_000 }));
    expect(messages(run)).toContain(`GitRepository/${ns}/x: fetching http://${pit}/x: timed out after 2 s`);
    expect(ms).toBeLessThan(15_000);
  });

  it.each([
    "sha256:../../../../tmp/x",
    "sha256:ABCDEF",
    `sha256:${"a".repeat(63)}/`,
    `sha512:${"a".repeat(128)}`,
  ])("an OCIRepository ref.digest %s names no URL and no path", async (digest) => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt-ocidigest");
    const server = await recorder();
    const cacheDir = temp("rt-cache");
    const repo = makeRepo({
      "clusters/dev/source.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: x
  namespace: ${ns}
spec:
  interval: 5m
  url: oci://${server.host}/app
  insecure: true
  ref:
    digest: ${JSON.stringify(digest)}
`,
      "clusters/dev/apps.yaml": fromSource(ns, "OCIRepository", "x"),
    });
    const run = await forkRun(api, repo, { cacheDir });
    expect(messages(run)).toContain(`OCIRepository/${ns}/x`);
    expect(messages(run)).toMatch(/digest/);
    expect(server.requests).toEqual([]);
    expect(readdirSync(cacheDir).filter((e) => !e.startsWith("."))).toEqual([]);
  });
});

describe("Secrets a fork names (rows 1, 4; Secrets never shown)", () => {
  it.each([
    ["required", ""],
    ["optional", "        optional: true\n"],
  ])("a %s postBuild.substituteFrom Secret is not read; its value appears nowhere", async (_l, optional) => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt-subst");
    const canary = canaryValue();
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "vars", namespace: ns },
      stringData: { TOKEN: canary },
    });
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n  postBuild:\n    substituteFrom:\n      - kind: Secret\n        name: vars\n${optional}`,
      }),
      "apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  token: ${TOKEN}\n",
    });
    const run = await forkRun(api, repo);
    expectClean(JSON.stringify(run), canary);
    if (!optional) {
      expect(messages(run)).toContain(
        `substituteFrom Secret/${ns}/vars is not read for changes from outside the repository`,
      );
    }
    expect(await exists(api, "v1", "ConfigMap", "leak", ns)).toBe(false);
  });

  it.each([
    ["a subchart", true],
    ["tpl of a value", false],
  ])("a chart's lookup through %s finds nothing in a fork's preview", async (_label, subchart) => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt-lookup");
    const canary = canaryValue();
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "canary", namespace: ns },
      stringData: { token: canary },
    });
    const leak = `{{- $s := lookup "v1" "Secret" "${ns}" "canary" }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-sub
data:
  data: {{ $s.data | toJson | quote }}
  all: {{ (lookup "v1" "Secret" "" "").items | toJson | quote }}
`;
    const repo = makeRepo({
      "clusters/dev/app.yaml": helmReleaseYaml({
        name: "app",
        namespace: ns,
        chart: "./charts/app",
        sourceKind: "GitRepository",
        repo: "flux-system",
        extra: subchart
          ? ""
          : `  values:\n    evil: ${JSON.stringify(`{{ (lookup "v1" "Secret" "${ns}" "canary").data | toJson }}`)}\n`,
      }),
    });
    const chart = writeChart(join(repo, "charts"), {
      name: "app",
      version: "1.0.0",
      templates: subchart
        ? {}
        : {
            "tpl.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-tpl\ndata:\n  out: {{ tpl .Values.evil . | quote }}\n`,
          },
    });
    if (subchart)
      writeChart(join(chart, "charts"), { name: "sub", version: "0.1.0", templates: { "leak.yaml": leak } });
    const run = await forkRun(api, repo);
    const hr = run.helmReleases?.find((h) => h.name === "app");
    expect(hr?.status).toBe("Ready");
    expect(hr?.changes.some((c) => c.subject.startsWith(`ConfigMap/${ns}/app-`))).toBe(true);
    expectClean(JSON.stringify(run), canary);
  });

  it("a same-repository preview masks a Secret value a chart base64-wraps with a prefix, URL-quotes or JSON-quotes", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt-wrap");
    const canary = `${canaryValue()}/+&`;
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "creds", namespace: ns },
      stringData: { password: canary },
    });
    const repo = makeRepo({
      "clusters/dev/app.yaml": helmReleaseYaml({
        name: "app",
        namespace: ns,
        chart: "./charts/app",
        sourceKind: "GitRepository",
        repo: "flux-system",
        extra:
          "  valuesFrom:\n    - kind: Secret\n      name: creds\n      valuesKey: password\n      targetPath: password\n",
      }),
    });
    writeChart(join(repo, "charts"), {
      name: "app",
      version: "1.0.0",
      values: "password: none\n",
      templates: {
        "cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-wrapped
data:
  basic: {{ printf "bot:%s" .Values.password | b64enc | quote }}
  header: {{ printf "Authorization: Basic %s" (printf "u:%s" .Values.password | b64enc) | quote }}
  url: {{ printf "https://example.com/?p=%s" (.Values.password | urlquery) | quote }}
  json: {{ dict "password" .Values.password | toJson | quote }}
  yaml: {{ dict "password" .Values.password | toYaml | quote }}
`,
      },
    });
    const run = await forkRun(api, repo, { untrusted: false });
    const hr = run.helmReleases?.find((h) => h.name === "app");
    expect(hr?.status).toBe("Ready");
    const text = JSON.stringify(run);
    expectClean(text, canary);
    expect(text).not.toContain(encodeURIComponent(canary));
    for (const prefix of ["bot:", "u:"])
      expect(text).not.toContain(base64(`${prefix}${canary}`).slice(8, 30));
  });
});

describe("slash commands hidden in Markdown (item 12)", () => {
  it.each([
    ["a ~~~ fence with an info string", "~~~ bash\n/gitops reconcile prod\n~~~"],
    ["a fence never closed", "```\n/gitops reconcile prod"],
    ["a fence indented three spaces", "   ~~~~\n/gitops reconcile prod\n   ~~~~"],
    ["a fence closed by a shorter one", "````\n/gitops reconcile prod\n```\n/gitops reconcile prod"],
    ["a tab-indented code block", "see:\n\n\t/gitops reconcile prod"],
    ["bare CR line endings", "~~~\r/gitops reconcile prod\r~~~"],
    ["an HTML comment on one line", "<!-- /gitops reconcile prod -->"],
    ["an HTML comment never closed", "<!--\n/gitops reconcile prod"],
    ["<PRE> in upper case", "<PRE>\n/gitops reconcile prod\n</PRE>"],
    ["<code> inline", "<code>/gitops reconcile prod</code>"],
    ["a nested quote", ">> /gitops reconcile prod"],
    ["a fence inside a quote", "> ```\n> /gitops reconcile prod\n> ```"],
    ["a code span", "`/gitops reconcile prod`"],
    ["a zero-width space before the slash", "\u200b/gitops reconcile prod"],
    ["a fullwidth slash", "\uff0fgitops reconcile prod"],
  ])("a command in %s runs nothing and asks GitHub nothing", async (_label, body) => {
    github = mockGitHub();
    const bot = await startBot();
    const payload = webhookExample("issue_comment", (p) => p.action === "created" && Boolean(p.installation));
    payload.comment.body = body;
    payload.installation = INSTALLATION;
    await receive(bot.probot, "issue_comment", payload);
    expect(bot.app.queue.size).toEqual({ running: 0, waiting: 0 });
    await bot.app.queue.idle();
    github.done();
  });
});
