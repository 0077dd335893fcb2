// Test helpers for the shared API server: the code under test gets a kubeconfig like any user's; each test
// gets its own namespace so test files run in parallel without seeing each other.
import { randomBytes } from "node:crypto";
import { type KubeConfig, PatchStrategy } from "@kubernetes/client-node";
import { inject } from "vitest";
import {
  apiStatus,
  loadKubeConfig,
  makeObjectApi,
  type RawObjectApi,
} from "../../src/cluster/kube-client.js";

export function testKubeConfig(): KubeConfig {
  return loadKubeConfig({ kubeconfig: inject("kubeconfigPath") });
}

export function testObjectApi(): RawObjectApi {
  return makeObjectApi(testKubeConfig());
}

/** A unique, DNS-safe name with a readable prefix. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`.toLowerCase().slice(0, 63);
}

export async function createNamespace(api: RawObjectApi, prefix = "test"): Promise<string> {
  const name = uniqueName(prefix);
  await api.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  return name;
}

export async function exists(
  api: RawObjectApi,
  apiVersion: string,
  kind: string,
  name: string,
  namespace?: string,
): Promise<boolean> {
  try {
    await api.read({ apiVersion, kind, metadata: { name, namespace } });
    return true;
  } catch (err) {
    if (apiStatus(err) === 404) return false;
    throw err;
  }
}

/** Waits until the simulated node is Ready and `namespace` has its default ServiceAccount, so pods can run. */
export async function waitForWorkloads(
  api: RawObjectApi,
  namespace: string,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const node = (await api
      .read({ apiVersion: "v1", kind: "Node", metadata: { name: "kwok-node-0" } })
      .catch(() => undefined)) as
      | { status?: { conditions?: { type: string; status: string }[] } }
      | undefined;
    const ready = node?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
    if (ready && (await exists(api, "v1", "ServiceAccount", "default", namespace))) return;
    if (Date.now() > deadline) throw new Error("kwok node or default ServiceAccount not ready in time");
    await new Promise((r) => setTimeout(r, 250));
  }
}

export { PatchStrategy };
