// Flux's real kustomize-controller against the test harness's API server: its binary and CRDs (built once by
// scripts/bench-binaries.sh into ~/.cache/gitops-bot/bin, next to the harness's own binaries), the controller as
// a process watching ONE namespace (so it never touches other test files' Flux objects), and a GitRepository
// whose status.artifact points at a tarball served on the loopback interface, as source-controller would.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { inject } from "vitest";
import { parseAllDocuments } from "yaml";
import { type Artifact, fluxTmpRoot } from "../../bench/support/flux.js";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { apiRequest } from "./control-plane.js";
import { PatchStrategy, testKubeConfig } from "./kube.js";
import { freePort, type ManagedProcess, startProcess, waitFor } from "./processes.js";

export interface FluxBinaries {
  controller: string;
  crdDir: string;
}

/**
 * kustomize-controller and its CRDs, looked up like the harness's binaries: GITOPS_BOT_TEST_BIN_DIR, the harness's
 * bin directory, then ~/.cache/gitops-bot/bin. Missing → an error naming the script that builds them.
 */
export function findFluxBinaries(): FluxBinaries {
  const dirs = [
    process.env.GITOPS_BOT_TEST_BIN_DIR,
    inject("binDir"),
    join(process.env.GITOPS_BOT_CACHE ?? join(homedir(), ".cache/gitops-bot"), "bin"),
  ].filter((d): d is string => Boolean(d));
  for (const dir of dirs) {
    const controller = join(dir, "kustomize-controller");
    const crdDir = join(dir, "flux-crds");
    if (existsSync(controller) && existsSync(join(crdDir, "kustomizations.yaml")))
      return { controller, crdDir };
  }
  throw new Error(
    `kustomize-controller or flux-crds/ not found in ${dirs.join(", ")}: run \`bash scripts/bench-binaries.sh\` (builds them once from the Go module proxy)`,
  );
}

/** The field manager the real Flux CRDs are applied with, by every test file that needs them. */
export const FLUX_CRD_MANAGER = "test-flux-crds";

/**
 * Applies Flux's real CRDs (Kustomization, GitRepository, OCIRepository, Bucket, ExternalArtifact) with force, so a
 * minimal stand-in CRD applied before by another manager is replaced, and waits until Kustomizations are served.
 * Idempotent: test files running in parallel apply the same content under the same manager.
 */
export async function installFluxCrds(api: RawObjectApi, bins = findFluxBinaries()): Promise<void> {
  for (const file of readdirSync(bins.crdDir).filter((f) => f.endsWith(".yaml"))) {
    for (const doc of parseAllDocuments(readFileSync(join(bins.crdDir, file), "utf8"))) {
      const crd = doc.toJS() as KubernetesObject | null;
      if (!crd?.kind) continue;
      await api.patch(crd, undefined, undefined, FLUX_CRD_MANAGER, true, PatchStrategy.ServerSideApply);
    }
  }
  await waitFor(
    "Flux CRDs served (Kustomization with a status subresource)",
    async () => {
      try {
        await api.list("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "default");
        await api.list("source.toolkit.fluxcd.io/v1", "GitRepository", "default");
        return true;
      } catch {
        return false;
      }
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

/** The harness's API server address and admin token, read from its kubeconfig, for raw (subresource) requests. */
function plane(): { server: string; token: string; caData: string } {
  const kc = testKubeConfig();
  const cluster = kc.getCurrentCluster();
  const token = kc.getCurrentUser()?.token;
  if (!cluster?.server || !cluster.caData || !token)
    throw new Error("the harness kubeconfig has no server, CA data or token");
  return { server: cluster.server, token, caData: cluster.caData };
}

async function ok(method: string, path: string, body?: unknown): Promise<string> {
  const res = await apiRequest(plane(), method, path, body);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 500)}`);
  return res.body;
}

/** Replaces `status` of a namespaced object through its status subresource (what a controller does). */
export async function writeStatus(
  apiPath: string,
  namespace: string,
  plural: string,
  name: string,
  status: unknown,
): Promise<void> {
  const path = `${apiPath}/namespaces/${namespace}/${plural}/${name}`;
  const obj = JSON.parse(await ok("GET", path)) as Record<string, unknown>;
  obj.status = status;
  await ok("PUT", `${path}/status`, obj);
}

/** A GitRepository `flux-system` in `namespace`, Ready with `artifact`, as source-controller reports it. */
export async function putGitRepository(namespace: string, artifact: Artifact): Promise<void> {
  const base = `/apis/source.toolkit.fluxcd.io/v1/namespaces/${namespace}/gitrepositories`;
  const existing = await apiRequest(plane(), "GET", `${base}/flux-system`);
  if (existing.status === 404)
    await ok("POST", base, {
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "GitRepository",
      metadata: { name: "flux-system", namespace },
      spec: { interval: "10m", url: "http://127.0.0.1/fleet.git", ref: { branch: "main" } },
    });
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const condition = (type: string) => ({
    type,
    status: "True",
    reason: "Succeeded",
    message: `stored artifact for revision '${artifact.revision}'`,
    lastTransitionTime: now,
    observedGeneration: 1,
  });
  await writeStatus("/apis/source.toolkit.fluxcd.io/v1", namespace, "gitrepositories", "flux-system", {
    observedGeneration: 1,
    artifact: { ...artifact, lastUpdateTime: now },
    conditions: [condition("Ready"), condition("ArtifactInStorage")],
  });
}

export interface KustomizeController {
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * kustomize-controller watching only `namespace` (its RUNTIME_NAMESPACE), no leader election, no events receiver,
 * metrics off. Resolves once its workers run.
 */
export async function startKustomizeController(
  namespace: string,
  logDir: string,
  bins = findFluxBinaries(),
): Promise<KustomizeController> {
  mkdirSync(logDir, { recursive: true });
  const tmp = fluxTmpRoot();
  const health = await freePort();
  const proc = startProcess(
    "kustomize-controller",
    bins.controller,
    [
      "--watch-all-namespaces=false",
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
      env: { KUBECONFIG: inject("kubeconfigPath"), TMPDIR: tmp.dir, RUNTIME_NAMESPACE: namespace },
    },
  );
  const stop = async () => {
    await proc.stop();
    rmSync(tmp.dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      "kustomize-controller workers started",
      async () => proc.tail(200).includes("Starting workers"),
      { timeoutMs: 120_000, intervalMs: 200, process: proc },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { process: proc, stop };
}

export interface LiveKustomization {
  metadata: { generation?: number; managedFields?: { manager?: string }[] };
  spec?: { suspend?: boolean };
  status?: {
    observedGeneration?: number;
    lastAppliedRevision?: string;
    inventory?: { entries?: { id: string; v: string }[] };
    conditions?: { type: string; status: string; message?: string }[];
  };
}

/** Polls Kustomization `name` until Ready for its generation at `revision`; fails with its last condition. */
export async function waitKustomizationReady(
  namespace: string,
  name: string,
  revision: string,
  opts: { timeoutMs: number; process?: ManagedProcess },
): Promise<LiveKustomization> {
  const path = `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${namespace}/kustomizations/${name}`;
  let last = "not found";
  const deadline = performance.now() + opts.timeoutMs;
  for (;;) {
    const res = await apiRequest(plane(), "GET", path);
    if (res.status === 200) {
      const k = JSON.parse(res.body) as LiveKustomization;
      const ready = k.status?.conditions?.find((c) => c.type === "Ready");
      last = `${ready?.status ?? "no Ready"} ${ready?.message ?? ""}`;
      if (
        ready?.status === "True" &&
        k.status?.observedGeneration === k.metadata.generation &&
        k.status?.lastAppliedRevision === revision
      )
        return k;
    }
    if (opts.process && opts.process.child.exitCode !== null)
      throw new Error(`kustomize-controller exited ${opts.process.child.exitCode}:\n${opts.process.tail()}`);
    if (performance.now() > deadline)
      throw new Error(
        `Kustomization/${namespace}/${name} not Ready at ${revision} within ${opts.timeoutMs} ms: ${last}\n${opts.process?.tail() ?? ""}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}
