// Moving from Flux, with the real thing: Flux's kustomize-controller (built from the Go module proxy by
// scripts/bench-binaries.sh) applies a tree from a GitRepository artifact — a ConfigMap with keys a and b and a
// ServiceAccount — and records them in its Kustomization's status.inventory. Flux is then suspended and stopped;
// Git keeps only key a and drops the ServiceAccount. The bot's first reconcile must leave no field of
// kustomize-controller behind (managedFields) and prune the ServiceAccount Flux's inventory lists.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ArtifactServer, startArtifactServer } from "../../bench/support/flux.js";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import {
  installFluxCrds,
  type KustomizeController,
  putGitRepository,
  startKustomizeController,
  waitKustomizationReady,
} from "../support/flux-controller.js";
import { createNamespace, exists, PatchStrategy, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo, writeTree } from "../support/repo-tree.js";

let api: RawObjectApi;
let work: string;
let artifacts: ArtifactServer;
let controller: KustomizeController | undefined;

beforeAll(async () => {
  api = testObjectApi();
  work = mkdtempSync(join(tmpdir(), "real-flux-"));
  await installFluxCrds(api);
  artifacts = await startArtifactServer(work);
});

afterAll(async () => {
  await controller?.stop();
  await artifacts?.close();
  rmSync(work, { recursive: true, force: true });
});

interface LiveObject extends KubernetesObject {
  data?: Record<string, string>;
}

describe("moving from Flux's real kustomize-controller", () => {
  it("takes over a tree Flux applied: no field of kustomize-controller left, Flux's removed objects pruned", async () => {
    const ns = await createNamespace(api, "real-flux");
    // What Flux reconciles: the artifact of GitRepository flux-system, path ./apps (no kustomization.yaml: Flux
    // generates one, as for most fleets' plain directories).
    const fluxTree = join(work, "flux-tree");
    writeTree(fluxTree, {
      "apps/settings.yaml": configMap("settings", { a: "1", b: "2" }),
      "apps/retired.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: retired\n",
    });
    const artifact = artifacts.publish(fluxTree);
    await putGitRepository(ns, artifact);
    controller = await startKustomizeController(ns, join(work, "logs"));
    await api.patch(
      {
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: { name: "apps", namespace: ns },
        spec: {
          interval: "10m",
          path: "./apps",
          prune: true,
          targetNamespace: ns,
          sourceRef: { kind: "GitRepository", name: "flux-system" },
        },
      } as KubernetesObject,
      undefined,
      undefined,
      "flux-bootstrap",
      true,
      PatchStrategy.ServerSideApply,
    );
    const applied = await waitKustomizationReady(ns, "apps", artifact.revision, {
      timeoutMs: 90_000,
      process: controller.process,
    });
    expect((applied.status?.inventory?.entries ?? []).map((e) => e.id).sort()).toEqual([
      `${ns}_retired__ServiceAccount`,
      `${ns}_settings__ConfigMap`,
    ]);
    const byFlux = (await api.read({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "settings", namespace: ns },
    })) as LiveObject;
    expect(byFlux.data).toEqual({ a: "1", b: "2" });
    expect((byFlux.metadata?.managedFields ?? []).map((m) => m.manager)).toContain("kustomize-controller");

    // The Moving-from-Flux guide's first step: suspend Flux (then it is stopped here for good).
    await api.patch(
      {
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: { name: "apps", namespace: ns },
        spec: { suspend: true },
      } as KubernetesObject,
      undefined,
      undefined,
      "flux-cli",
      true,
      PatchStrategy.ServerSideApply,
    );
    await controller.stop();
    controller = undefined;

    // Git now keeps only key a and no ServiceAccount.
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      "apps/settings.yaml": configMap("settings", { a: "1" }),
    });
    const scope = uniqueName("scope");
    const result = await reconcileTree(api, { ...defaultReconcileOptions(repo, "clusters/dev"), scope });
    expect(result.errors).toEqual([]);
    const k = result.kustomizations.find((r) => r.name === "apps");
    expect(k?.status).toBe("Ready");
    expect(Object.fromEntries((k?.changes ?? []).map((c) => [c.subject, c.action]))).toMatchObject({
      [`ConfigMap/${ns}/settings`]: "configured",
      [`ServiceAccount/${ns}/retired`]: "deleted",
    });

    const live = (await api.read({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "settings", namespace: ns },
    })) as LiveObject;
    expect(live.data).toEqual({ a: "1" });
    const managed = live.metadata?.managedFields ?? [];
    expect(managed.filter((m) => m.manager === "kustomize-controller")).toEqual([]);
    expect(managed.map((m) => m.manager)).toContain("gitops-bot");
    expect(await exists(api, "v1", "ServiceAccount", "retired", ns)).toBe(false);

    // A second reconcile finds nothing to do: the takeover is complete.
    const again = await reconcileTree(api, { ...defaultReconcileOptions(repo, "clusters/dev"), scope });
    expect(again.errors).toEqual([]);
    const settingsAgain = again.kustomizations
      .find((r) => r.name === "apps")
      ?.changes.find((c) => c.subject === `ConfigMap/${ns}/settings`);
    expect(settingsAgain?.action ?? "unchanged").toBe("unchanged");
  }, 240_000);
});
