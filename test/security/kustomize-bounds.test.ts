// Attacks on kustomize builds through the real entry points (the CLI's `build`, the engine's dry-run as a pull
// request runs it, and the build layer with the operator's switch on): remote resources on a loopback server
// that accepts connections and never answers (attack row 8), Helm inflation, exec/KRM plugins. A refused
// build must end at once with an error naming the file and field and send no request; an allowed one must
// end within its time bound.
import { existsSync, mkdtempSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { buildKustomization, prepareWorkTree } from "../../src/build/kustomize.js";
import { parseKustomization } from "../../src/flux/kustomization.js";
import { defaultManifestLimits, parseManifests } from "../../src/flux/manifests.js";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { cli } from "../support/cli.js";
import { createNamespace, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.allSettled(stops.splice(0).map((stop) => stop()));
});

/** A TCP server on loopback that accepts connections and never answers; counts what reaches it. */
async function tarpit(): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  stops.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

const kustomization = (body: string) =>
  `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${body}`;
const SWITCH =
  "remote kustomize resources are off (operator setting security.remoteKustomizeResources; CLI flag --allow-remote-resources)";

/** A repository whose Kustomization `apps` builds ./apps, which names a resource on the tarpit. */
function hangingRepo(port: number, namespace = "flux-system"): string {
  return makeRepo({
    "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace, path: "./apps" }),
    "apps/kustomization.yaml": kustomization(`resources:\n- cm.yaml\n- http://127.0.0.1:${port}/hang.yaml\n`),
    "apps/cm.yaml": configMap("settings", { color: "blue" }),
  });
}

describe("remote kustomize resources (attack row 8)", () => {
  it("CLI build: refused at once, naming the file and field; the server sees no request", async () => {
    const server = await tarpit();
    const repo = hangingRepo(server.port);
    const started = Date.now();
    const { code, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(code).toBe(2);
    expect(err).toContain(
      `clusters/dev/apps.yaml: Kustomization/flux-system/apps: apps/kustomization.yaml: resources[1]: "http://127.0.0.1:${server.port}/hang.yaml" is a remote reference; ${SWITCH}`,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(server.connections()).toBe(0);
  });

  it("CLI build: a cluster path with its own kustomization.yaml is checked the same way", async () => {
    const server = await tarpit();
    const repo = makeRepo({
      "clusters/dev/kustomization.yaml": kustomization(
        `resources:\n- apps.yaml\n- https://127.0.0.1:${server.port}/more.yaml\n`,
      ),
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const { code, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(code).toBe(2);
    expect(err).toContain(
      `clusters/dev/kustomization.yaml: resources[1]: "https://127.0.0.1:${server.port}/more.yaml" is a remote reference; ${SWITCH}`,
    );
    expect(server.connections()).toBe(0);
  });

  it("engine dry-run (as a pull request runs it): the Kustomization fails with the reason, nothing is fetched", async () => {
    const server = await tarpit();
    const api = testObjectApi();
    const ns = await createNamespace(api, "kbounds");
    const repo = hangingRepo(server.port, ns);
    const started = Date.now();
    const run = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
      dryRun: true,
      withDiff: true,
      untrusted: true,
    });
    const apps = run.kustomizations.find((k) => k.name === "apps");
    expect(apps?.status).not.toBe("Ready");
    expect(JSON.stringify(run)).toContain(
      `apps/kustomization.yaml: resources[1]: \\"http://127.0.0.1:${server.port}/hang.yaml\\" is a remote reference`,
    );
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(server.connections()).toBe(0);
  });

  it("with remote resources allowed, the build ends within its time bound with a clear timeout error", async () => {
    const server = await tarpit();
    const repo = hangingRepo(server.port);
    const work = prepareWorkTree(repo);
    try {
      const [doc] = parseManifests(
        fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
        "f",
      );
      const ks = parseKustomization(doc?.object ?? {}, "clusters/dev/apps.yaml");
      const started = Date.now();
      const build = buildKustomization(work, ks, defaultManifestLimits(), {
        allowRemoteResources: true,
        timeoutMs: 3_000,
      });
      await expect(build).rejects.toThrow(
        "clusters/dev/apps.yaml: Kustomization/flux-system/apps: kustomize build ./apps did not finish within 3 s (the build time limit, operator setting security.maxBuildTime)",
      );
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(2_900);
      expect(took).toBeLessThan(8_000);
      // kustomize did try: the bound, not the scan, is what ended it
      expect(server.connections()).toBeGreaterThan(0);
    } finally {
      work.cleanup();
    }
  });
});

describe("the CLI's switches", () => {
  it("--allow-remote-resources with --build-timeout: the build ends within the given bound", async () => {
    const server = await tarpit();
    const repo = hangingRepo(server.port);
    const started = Date.now();
    const { code, err } = await cli([
      "build",
      join(repo, "clusters/dev"),
      "--repo",
      repo,
      "--allow-remote-resources",
      "--build-timeout",
      "2s",
    ]);
    const took = Date.now() - started;
    expect(code).toBe(2);
    expect(err).toContain(
      "clusters/dev/apps.yaml: Kustomization/flux-system/apps: kustomize build ./apps did not finish within 2 s",
    );
    expect(took).toBeLessThan(8_000);
    expect(server.connections()).toBeGreaterThan(0);
  });

  it("--build-timeout must be a duration", async () => {
    const { code, err } = await cli(["build", "clusters/dev", "--build-timeout", "soon"]);
    expect(code).toBe(2);
    expect(err).toContain(
      'gitops-bot build: --build-timeout: "soon" is not a duration like 30s, 5m or 1h30m',
    );
  });
});

describe("Helm inflation and plugins", () => {
  it("helmCharts in a kustomization is refused before kustomize runs", async () => {
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
      "apps/kustomization.yaml": kustomization(
        "helmCharts:\n- name: podinfo\n  repo: http://127.0.0.1:1/charts\n  version: 6.0.0\n",
      ),
    });
    const { code, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(code).toBe(2);
    expect(err).toContain(
      "clusters/dev/apps.yaml: Kustomization/flux-system/apps: apps/kustomization.yaml: helmCharts: Helm chart inflation in kustomize is not supported; use a HelmRelease",
    );
  });

  it("an exec KRM function or a legacy exec plugin never runs", async () => {
    const canaryDir = mkdtempSync(join(tmpdir(), "gitops-bot-canary-"));
    const touched = join(canaryDir, "plugin-ran");
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
      "apps/kustomization.yaml": kustomization(
        "resources: [cm.yaml]\ntransformers: [fn.yaml, legacy.yaml]\n",
      ),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
      "apps/fn.yaml": `apiVersion: example.com/v1
kind: Touch
metadata:
  name: touch
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: /bin/sh
        args: ["-c", "touch ${touched}"]
`,
      "apps/legacy.yaml": "apiVersion: example.com/v1\nkind: LegacyTouch\nmetadata:\n  name: legacy\n",
    });
    const { code, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(code).toBe(2);
    expect(err).toMatch(
      /clusters\/dev\/apps\.yaml: Kustomization\/flux-system\/apps: apps\/fn\.yaml: Touch\/touch: apiVersion: "example\.com\/v1" \(from transformers\[0\]\): only kustomize's built-in plugins/,
    );
    expect(existsSync(touched)).toBe(false);
  });
});
