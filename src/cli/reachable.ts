// Before a diff or reconcile: one request to the API server, so an unreachable or refusing cluster is one
// message naming the server and context and what to check, not the same socket error once per Kustomization.
import type { KubeConfig } from "@kubernetes/client-node";
import { apiStatus, type RawObjectApi } from "../cluster/kube-client.js";

const REASONS: [RegExp, string][] = [
  [/ECONNREFUSED/, "connection refused"],
  [/ENOTFOUND|EAI_AGAIN/, "no such host"],
  [/EHOSTUNREACH|ENETUNREACH/, "host unreachable"],
  [/ETIMEDOUT|did not answer|within|sent nothing/, "no answer"],
  [
    /certificate|self[- ]signed|CERT_|unable to verify/i,
    "its TLS certificate is not trusted by the kubeconfig",
  ],
];

export async function assertReachable(api: RawObjectApi, kc: KubeConfig): Promise<void> {
  const server = kc.getCurrentCluster()?.server ?? "(no server)";
  const where = `the API server ${server} (context ${kc.currentContext || "none"})`;
  try {
    await api.isNamespaced("v1", "Namespace");
  } catch (err) {
    const status = apiStatus(err);
    if (status === 401) {
      throw new Error(
        `${where} refused the kubeconfig's credentials (401): log in again or refresh the token, then retry`,
        { cause: err },
      );
    }
    if (status !== undefined) return; // It answered: the run reports whatever else is wrong, per object.
    const text =
      err instanceof Error ? `${err.message} ${String((err.cause as Error | undefined)?.message)}` : "";
    const reason = REASONS.find(([pattern]) => pattern.test(text))?.[1] ?? (err as Error).message;
    throw new Error(
      `cannot reach ${where}: ${reason}. Check that the cluster is running and that --kubeconfig and --context point at it`,
      { cause: err },
    );
  }
}
