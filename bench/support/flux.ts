// Flux's own kustomize-controller for the side-by-side benchmark: its binary and CRDs (scripts/bench-binaries.sh),
// the controller as a process against the bench API server, and a GitRepository whose status.artifact points at
// a tarball of the bench tree that this process serves on the loopback interface, the way source-controller would.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiRequest, type ControlPlane } from "../../test/support/control-plane.js";
import { freePort, type ManagedProcess, startProcess, waitFor } from "../../test/support/processes.js";

const repoRoot = (() => {
  let dir = new URL(".", import.meta.url).pathname;
  while (!existsSync(join(dir, "scripts/bench-binaries.sh")) && dir !== "/") dir = join(dir, "..");
  return dir;
})();

export interface FluxBinaries {
  controller: string;
  crdDir: string;
}

/** Runs scripts/bench-binaries.sh (a no-op on a warm cache); the first build takes minutes. */
export function ensureFluxBinaries(): FluxBinaries & { buildMs: number } {
  const started = performance.now();
  const out = execFileSync("bash", [join(repoRoot, "scripts/bench-binaries.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const binDir = out.trim().split("\n").at(-1) ?? "";
  const controller = join(binDir, "kustomize-controller");
  const crdDir = join(binDir, "flux-crds");
  if (!existsSync(controller)) throw new Error(`kustomize-controller missing in ${binDir}`);
  return { controller, crdDir, buildMs: performance.now() - started };
}

/** tmpfs where there is one (the controller untars and builds every artifact in its TMPDIR), else the disk. */
export function fluxTmpRoot(): { dir: string; medium: "tmpfs" | "disk" } {
  const shm = "/dev/shm";
  if (existsSync(shm)) {
    try {
      return { dir: mkdtempSync(join(shm, "gitops-bot-flux-")), medium: "tmpfs" };
    } catch {
      // not writable: fall through
    }
  }
  return { dir: mkdtempSync(join(tmpdir(), "gitops-bot-flux-")), medium: "disk" };
}

export interface Artifact {
  url: string;
  digest: string;
  revision: string;
  size: number;
  path: string;
}

export interface ArtifactServer {
  /** Packs `treeDir` (every file, no .git) into a tarball and serves it; returns what status.artifact says. */
  publish(treeDir: string): Artifact;
  requests(): number;
  close(): Promise<void>;
}

export async function startArtifactServer(workDir: string): Promise<ArtifactServer> {
  const files = new Map<string, Buffer>();
  let served = 0;
  const server: Server = createServer((req, res) => {
    const body = files.get(req.url ?? "");
    served++;
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/gzip", "content-length": body.length }).end(body);
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  let generation = 0;
  return {
    publish(treeDir) {
      const tarball = join(workDir, `artifact-${++generation}.tar.gz`);
      execFileSync("tar", ["-czf", tarball, "--exclude=.git", "-C", treeDir, "."]);
      const body = readFileSync(tarball);
      rmSync(tarball);
      const sha256 = createHash("sha256").update(body).digest("hex");
      // A Git revision is what source-controller reports; the bench tree is no Git repository, so the content's
      // hash stands in for the commit (same shape: main@sha1:<40 hex>).
      const commit = createHash("sha1").update(body).digest("hex");
      const path = `gitrepository/bench/flux-system/${commit}.tar.gz`;
      files.set(`/${path}`, body);
      return {
        url: `http://127.0.0.1:${port}/${path}`,
        digest: `sha256:${sha256}`,
        revision: `main@sha1:${commit}`,
        size: body.length,
        path,
      };
    },
    requests: () => served,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function ok(
  plane: ControlPlane,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  const res = await apiRequest(plane, method, path, body);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 500)}`);
  return res;
}

/** A GitRepository `flux-system` in `namespace` whose status is Ready with `artifact` (as source-controller sets it). */
export async function putGitRepository(
  plane: ControlPlane,
  namespace: string,
  artifact: Artifact,
): Promise<void> {
  const base = `/apis/source.toolkit.fluxcd.io/v1/namespaces/${namespace}/gitrepositories`;
  const existing = await apiRequest(plane, "GET", `${base}/flux-system`);
  let obj: Record<string, unknown> & { status?: unknown; metadata: { generation?: number } };
  if (existing.status === 404) {
    const created = await ok(plane, "POST", base, {
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "GitRepository",
      metadata: { name: "flux-system", namespace },
      spec: { interval: "10m", url: "http://127.0.0.1/bench.git", ref: { branch: "main" } },
    });
    obj = JSON.parse(created.body);
  } else {
    obj = JSON.parse(existing.body);
  }
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  obj.status = {
    observedGeneration: obj.metadata.generation ?? 1,
    artifact: { ...artifact, lastUpdateTime: now },
    conditions: [
      {
        type: "Ready",
        status: "True",
        reason: "Succeeded",
        message: `stored artifact for revision '${artifact.revision}'`,
        lastTransitionTime: now,
        observedGeneration: obj.metadata.generation ?? 1,
      },
      {
        type: "ArtifactInStorage",
        status: "True",
        reason: "Succeeded",
        message: `stored artifact for revision '${artifact.revision}'`,
        lastTransitionTime: now,
        observedGeneration: obj.metadata.generation ?? 1,
      },
    ],
  };
  await ok(plane, "PUT", `${base}/flux-system/status`, obj);
}

export interface FluxController {
  process: ManagedProcess;
  tmpMedium: "tmpfs" | "disk";
  stop(): Promise<void>;
}

/** kustomize-controller watching every namespace, no leader election, no events receiver, metrics off. */
export async function startFluxController(
  plane: ControlPlane,
  bins: FluxBinaries,
  logDir: string,
): Promise<FluxController> {
  mkdirSync(logDir, { recursive: true });
  const tmp = fluxTmpRoot();
  const health = await freePort();
  const proc = startProcess(
    "kustomize-controller",
    bins.controller,
    [
      "--watch-all-namespaces",
      "--enable-leader-election=false",
      "--metrics-addr=0",
      `--health-addr=127.0.0.1:${health}`,
      "--events-addr=",
      "--no-remote-bases=true",
      "--log-level=info",
      "--log-encoding=json",
    ],
    {
      logDir,
      env: { KUBECONFIG: plane.kubeconfigPath, TMPDIR: tmp.dir, RUNTIME_NAMESPACE: "flux-system" },
    },
  );
  try {
    await waitFor(
      "kustomize-controller ready",
      async () => {
        try {
          return (await fetch(`http://127.0.0.1:${health}/readyz`)).ok;
        } catch {
          return false;
        }
      },
      { timeoutMs: 60_000, intervalMs: 200, process: proc },
    );
    // Ready means the probes listen; the workers start only once every watched kind's cache has synced.
    await waitFor(
      "kustomize-controller workers started",
      async () => proc.tail(200).includes("Starting workers"),
      {
        timeoutMs: 120_000,
        intervalMs: 200,
        process: proc,
      },
    );
  } catch (err) {
    await proc.stop();
    rmSync(tmp.dir, { recursive: true, force: true });
    throw err;
  }
  return {
    process: proc,
    tmpMedium: tmp.medium,
    async stop() {
      await proc.stop();
      rmSync(tmp.dir, { recursive: true, force: true });
    },
  };
}

interface KsStatus {
  metadata: { name: string; generation?: number };
  status?: {
    observedGeneration?: number;
    lastHandledReconcileAt?: string;
    conditions?: { type: string; status: string; message?: string }[];
  };
}

/**
 * Polls until every Kustomization in `namespace` is Ready for its current generation (and, given `handled`, has
 * handled that reconcile request). Resolves with the time it was first seen so; fails with the stragglers.
 */
export async function waitKustomizationsReady(
  plane: ControlPlane,
  namespace: string,
  count: number,
  opts: { handled?: string; timeoutMs: number; process?: ManagedProcess },
): Promise<number> {
  const deadline = performance.now() + opts.timeoutMs;
  let pending: string[] = [];
  for (;;) {
    const res = await apiRequest(
      plane,
      "GET",
      `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${namespace}/kustomizations`,
    );
    const items = (JSON.parse(res.body) as { items?: KsStatus[] }).items ?? [];
    pending = items
      .filter((k) => {
        const ready = k.status?.conditions?.find((c) => c.type === "Ready");
        if (ready?.status !== "True") return true;
        if ((k.status?.observedGeneration ?? -1) !== k.metadata.generation) return true;
        return opts.handled !== undefined && k.status?.lastHandledReconcileAt !== opts.handled;
      })
      .map((k) => {
        const ready = k.status?.conditions?.find((c) => c.type === "Ready");
        return `${k.metadata.name}: ${ready?.status ?? "no Ready"} ${ready?.message ?? ""}`.trim();
      });
    if (items.length === count && pending.length === 0) return performance.now();
    if (opts.process && opts.process.child.exitCode !== null)
      throw new Error(`kustomize-controller exited ${opts.process.child.exitCode}:\n${opts.process.tail()}`);
    if (performance.now() > deadline)
      throw new Error(
        `Kustomizations in ${namespace} not Ready within ${opts.timeoutMs} ms (${items.length}/${count} present): ${pending.slice(0, 5).join("; ")}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}
