// Holes the red team found after the first pass (issue #9), each attacked through the engine as a fork's pull
// request runs it (reconcileTree, dryRun + withDiff + untrusted) against the real API server, git server and
// kustomize: built-in kustomize plugin configurations that fetch URLs (H1), git following a redirect to a host the
// outbound policy denies and resolving the host itself (H3), and YAML alias bombs / memory in kustomize (H4).
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import type { RunResult } from "../../src/reconcile/result.js";
import { defaultReconcileOptions, type ReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { createOutboundPolicy } from "../../src/util/outbound/index.js";
import { createGitRepo } from "../support/git-server.js";
import { createNamespace, testKubeConfig, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.allSettled(stops.splice(0).map((stop) => stop()));
});

const temp = (prefix: string) => mkdtempSync(join(tmpdir(), `gitops-bot-${prefix}-`));
const canaryValue = () => `rtf-canary-${randomBytes(10).toString("hex")}`;

/** An HTTP server that records every request; returns host:port. */
async function recorder(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host = "127.0.0.1",
): Promise<{ host: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.url} auth=${req.headers.authorization ?? ""}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  stops.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { host: `${host}:${(server.address() as AddressInfo).port}`, requests };
}

function forkRun(api: RawObjectApi, repo: string, extra: Partial<ReconcileOptions> = {}): Promise<RunResult> {
  return reconcileTree(api, {
    ...defaultReconcileOptions(repo, "clusters/dev"),
    scope: uniqueName("scope"),
    cacheDir: temp("rtf-cache"),
    kubeConfig: testKubeConfig(),
    dryRun: true,
    withDiff: true,
    untrusted: true,
    ...extra,
  });
}

function messages(run: RunResult): string {
  return [
    ...run.errors,
    ...run.kustomizations.map((k) => k.message),
    ...(run.helmReleases ?? []).map((h) => h.message),
  ].join("\n");
}

const kustomization = (body: string) =>
  `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${body}`;

const SWITCH = "remote kustomize resources are off";

describe("H1: kustomize built-in plugin configurations never fetch a URL", () => {
  const canary = canaryValue();
  const appsKs = (ns: string) =>
    fluxKustomization({ name: "apps", namespace: ns, path: "./apps", extra: `  targetNamespace: ${ns}\n` });

  it.each<[string, (url: string) => Record<string, string>, string]>([
    [
      "a ConfigMapGenerator configuration file (files, key= form)",
      (url) => ({
        "apps/kustomization.yaml": kustomization("generators:\n- gen.yaml\n"),
        "apps/gen.yaml": `apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: stolen\nfiles:\n- creds=${url}/latest/meta-data/iam\n`,
      }),
      "apps/gen.yaml: ConfigMapGenerator/stolen: files[0]:",
    ],
    [
      "an inline multi-line generator",
      (url) => ({
        "apps/kustomization.yaml": kustomization(
          `generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata:\n    name: stolen\n  files:\n  - creds=${url}/x\n`,
        ),
      }),
      "apps/kustomization.yaml: ConfigMapGenerator/stolen: generators[0].files[0]:",
    ],
    [
      "an inline generator as a one-line flow mapping",
      (url) => ({
        "apps/kustomization.yaml": kustomization(
          `generators:\n- "{apiVersion: builtin, kind: SecretGenerator, metadata: {name: stolen}, envs: ['${url}/env']}"\n`,
        ),
      }),
      "apps/kustomization.yaml: SecretGenerator/stolen: generators[0].envs[0]:",
    ],
    [
      "a PatchTransformer path",
      (url) => ({
        "apps/kustomization.yaml": kustomization("resources: [cm.yaml]\ntransformers: [t.yaml]\n"),
        "apps/cm.yaml": configMap("settings", { color: "blue" }),
        "apps/t.yaml": `apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npath: ${url}/patch.yaml\n`,
      }),
      "apps/t.yaml: PatchTransformer/p: path:",
    ],
    [
      "a ReplacementTransformer path",
      (url) => ({
        "apps/kustomization.yaml": kustomization("resources: [cm.yaml]\ntransformers: [t.yaml]\n"),
        "apps/cm.yaml": configMap("settings", { color: "blue" }),
        "apps/t.yaml": `apiVersion: builtin\nkind: ReplacementTransformer\nmetadata:\n  name: r\nreplacements:\n- path: ${url}/r.yaml\n`,
      }),
      "apps/t.yaml: ReplacementTransformer/r: replacements[0].path:",
    ],
    [
      "a URL in a field the bot does not read as a path (backstop)",
      (url) => ({
        "apps/kustomization.yaml": kustomization("resources: [cm.yaml]\ntransformers: [t.yaml]\n"),
        "apps/cm.yaml": configMap("settings", { color: "blue" }),
        "apps/t.yaml": `apiVersion: builtin\nkind: PatchStrategicMergeTransformer\nmetadata:\n  name: p\nfuture:\n  source: ${url}/p.yaml\n`,
      }),
      "apps/t.yaml: PatchStrategicMergeTransformer/p: future.source:",
    ],
  ])("%s is refused before kustomize runs; the server is never reached", async (_what, files, where) => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rtf-h1");
    const server = await recorder((_req, res) => res.end(`AccessKeyId: ${canary}\n`));
    const repo = makeRepo({ "clusters/dev/apps.yaml": appsKs(ns), ...files(`http://${server.host}`) });
    const run = await forkRun(api, repo);
    expect(server.requests).toEqual([]);
    expect(JSON.stringify(run)).not.toContain(canary);
    expect(run.kustomizations[0]?.status).toBe("Failed");
    expect(run.kustomizations[0]?.message).toContain(
      `clusters/dev/apps.yaml: Kustomization/${ns}/apps: ${where}`,
    );
    expect(run.kustomizations[0]?.message).toContain(SWITCH);
  });

  it("an exec plugin is refused by the bot, naming the file, before kustomize runs", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rtf-h1");
    const repo = makeRepo({
      "clusters/dev/apps.yaml": appsKs(ns),
      "apps/kustomization.yaml": kustomization("transformers: [fn.yaml]\n"),
      "apps/fn.yaml":
        "apiVersion: example.com/v1\nkind: Touch\nmetadata:\n  name: t\n  annotations:\n    config.kubernetes.io/function: |\n      exec: {path: /bin/true}\n",
    });
    const run = await forkRun(api, repo);
    expect(run.kustomizations[0]?.message).toContain(
      `clusters/dev/apps.yaml: Kustomization/${ns}/apps: apps/fn.yaml: Touch/t: apiVersion: "example.com/v1" (from transformers[0]): only kustomize's built-in plugins (apiVersion: builtin) are supported`,
    );
  });

  it("built-in plugin configurations with local files still build", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rtf-h1");
    const repo = makeRepo({
      "clusters/dev/apps.yaml": appsKs(ns),
      "apps/kustomization.yaml": kustomization(
        "resources: [cm.yaml]\ngenerators:\n- gen.yaml\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata: {name: inline}\n  literals: [URL=https://example.com/api]\n  options: {disableNameSuffixHash: true}\ntransformers: [t.yaml]\n",
      ),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
      "apps/gen.yaml":
        "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: fromfile}\nfiles: [k=a.txt]\noptions: {disableNameSuffixHash: true}\n",
      "apps/a.txt": "local file",
      "apps/t.yaml":
        "apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: p.yaml\ntarget: {kind: ConfigMap, name: settings}\n",
      "apps/p.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: green}\n",
    });
    const run = await forkRun(api, repo);
    expect(messages(run)).not.toContain("Failed");
    expect(run.kustomizations[0]?.status).not.toBe("Failed");
    const subjects = JSON.stringify(run.kustomizations[0]?.changes ?? []);
    expect(subjects).toContain("fromfile");
    expect(subjects).toContain("inline");
    expect(subjects).toContain("settings");
  });
});

describe("H3: git follows no redirect and connects only to the checked addresses", () => {
  it("a redirect to a denied address is not followed (no request reaches it), with a clear error", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rtf-h3");
    const internal = await recorder((_req, res) => res.writeHead(404).end(), "127.0.0.2");
    const front = await recorder((req, res) =>
      res.writeHead(302, { location: `http://${internal.host}${req.url}` }).end(),
    );
    const repo = makeRepo({
      "clusters/dev/src.yaml": `apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: x\n  namespace: ${ns}\nspec:\n  interval: 5m\n  url: http://${front.host}/repo\n  ref:\n    branch: main\n`,
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: ns, path: "./" }).replace(
        "name: flux-system",
        "name: x",
      ),
    });
    const run = await forkRun(api, repo, { outbound: createOutboundPolicy({ deny: ["127.0.0.2/32"] }) });
    expect(front.requests.length).toBeGreaterThan(0);
    expect(internal.requests).toEqual([]);
    expect(messages(run)).toContain("git follows no redirect");
  });

  it("a redirect never carries the GitRepository's credentials to another host", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rtf-h3");
    const password = canaryValue();
    const internal = await recorder((_req, res) => res.writeHead(404).end(), "127.0.0.2");
    const front = await recorder((req, res) =>
      res.writeHead(302, { location: `http://${internal.host}${req.url}` }).end(),
    );
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "git-auth", namespace: ns },
      stringData: { username: "bot", password },
    } as never);
    const repo = makeRepo({
      "clusters/dev/src.yaml": `apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: x\n  namespace: ${ns}\nspec:\n  interval: 5m\n  url: http://${front.host}/repo\n  secretRef:\n    name: git-auth\n  ref:\n    branch: main\n`,
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: ns, path: "./" }).replace(
        "name: flux-system",
        "name: x",
      ),
    });
    // trusted (a push): Secrets are read, so the credentials exist to be leaked
    const run = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
      cacheDir: temp("rtf-cache"),
      kubeConfig: testKubeConfig(),
      dryRun: true,
      withDiff: true,
    });
    expect(internal.requests).toEqual([]);
    expect(JSON.stringify(run)).not.toContain(password);
    expect(messages(run)).toContain("git follows no redirect");
  });

  it("git connects to the addresses the outbound policy resolved, not to its own DNS answer", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rtf-h3");
    const name = uniqueName("pinned");
    await createGitRepo(join(inject("gitRoot"), name), { "apps/cm.yaml": configMap("pinned", { a: "1" }) });
    const server = new URL(inject("gitServerUrl"));
    // A name no DNS server knows: only the policy's resolver answers it (as a rebinding DNS would answer the
    // policy one address and git another). git can fetch only if it uses the policy's answer.
    const host = "git.pinned.invalid";
    const resolved: string[] = [];
    const outbound = createOutboundPolicy({}, async (h) => {
      resolved.push(h);
      return h === host ? [{ address: "127.0.0.1", family: 4 }] : [];
    });
    const repo = makeRepo({
      "clusters/dev/src.yaml": `apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: x\n  namespace: ${ns}\nspec:\n  interval: 5m\n  url: http://${host}:${server.port}/${name}\n  ref:\n    branch: main\n`,
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n`,
      }).replace("name: flux-system", "name: x"),
    });
    const run = await forkRun(api, repo, { outbound });
    expect(resolved).toContain(host);
    expect(messages(run)).not.toMatch(/resolve|fetching/i);
    expect(run.kustomizations[0]?.status).not.toBe("Failed");
    expect(JSON.stringify(run.kustomizations[0]?.changes ?? [])).toContain("pinned");
  });
});

describe("H4: YAML alias bombs and memory in kustomize", () => {
  const bomb = (levels: number) => {
    const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i <= levels; i++) {
      lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(",")}]`);
    }
    return lines.join("\n");
  };
  const appsKs = (ns: string, extra = "") =>
    fluxKustomization({
      name: "apps",
      namespace: ns,
      path: "./apps",
      extra: `  targetNamespace: ${ns}\n${extra}`,
    });

  it.each<[string, (ns: string) => Record<string, string>, string]>([
    [
      "a resource",
      (ns) => ({
        "clusters/dev/apps.yaml": appsKs(ns),
        "apps/kustomization.yaml": kustomization("resources:\n- bomb.yaml\n"),
        "apps/bomb.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  x: y\nextra:\n${bomb(9).replace(/^/gm, "  ")}\n`,
      }),
      "apps/bomb.yaml: YAML aliases expand too far",
    ],
    [
      "a patch file",
      (ns) => ({
        "clusters/dev/apps.yaml": appsKs(ns),
        "apps/kustomization.yaml": kustomization("resources: [cm.yaml]\npatches:\n- path: p.yaml\n"),
        "apps/cm.yaml": configMap("settings", { color: "blue" }),
        "apps/p.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\nextra:\n${bomb(9).replace(/^/gm, "  ")}\n`,
      }),
      "apps/p.yaml: YAML aliases expand too far",
    ],
    [
      "a plain directory's manifest (generated kustomization)",
      (ns) => ({
        "clusters/dev/apps.yaml": appsKs(ns),
        "apps/bomb.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\nextra:\n${bomb(9).replace(/^/gm, "  ")}\n`,
      }),
      "apps/bomb.yaml: YAML aliases expand too far",
    ],
    [
      "the Flux Kustomization's inline patch",
      (ns) => ({
        "clusters/dev/apps.yaml": appsKs(
          ns,
          `  patches:\n  - patch: |\n${bomb(9).replace(/^/gm, "      ")}\n`,
        ),
        "apps/cm.yaml": configMap("settings", { color: "blue" }),
      }),
      "spec.patches[0].patch: YAML aliases expand too far",
    ],
  ])("an alias bomb in %s is refused before kustomize runs, naming the file", async (_what, files, where) => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rtf-h4");
    const started = Date.now();
    const run = await forkRun(api, makeRepo(files(ns)), { kustomize: { timeoutMs: 60_000 } });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(run.kustomizations[0]?.status).toBe("Failed");
    expect(run.kustomizations[0]?.message).toContain(`clusters/dev/apps.yaml: Kustomization/${ns}/apps:`);
    expect(run.kustomizations[0]?.message).toContain(where);
  });

  it("kustomize over its memory bound is stopped with a clear error", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rtf-h4");
    const many = Array.from({ length: 1500 }, (_, i) => configMap(`c${i}`, { a: String(i) })).join("---\n");
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: ns, path: "./apps" }),
      "apps/kustomization.yaml": kustomization("resources: [many.yaml]\n"),
      "apps/many.yaml": many,
    });
    const run = await forkRun(api, repo, { kustomize: { maxMemoryBytes: 1024 * 1024 } });
    expect(run.kustomizations[0]?.status).toBe("Failed");
    expect(run.kustomizations[0]?.message).toContain(
      `clusters/dev/apps.yaml: Kustomization/${ns}/apps: kustomize build ./apps used more than 1 MiB of memory; stopped`,
    );
  });
});
