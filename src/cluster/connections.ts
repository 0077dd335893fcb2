// One API client per configured cluster, made on first use and kept: building a KubeConfig reads files, and a
// client keeps its discovery cache between runs.
import type { OperatorCluster } from "../config/operator-config.js";
import { loadKubeConfig, makeObjectApi, type RawObjectApi } from "./kube-client.js";

export class ClusterConnections {
  private readonly apis = new Map<string, RawObjectApi>();

  /** Throws with the cluster's name when its kubeconfig or context cannot be loaded. */
  get(cluster: OperatorCluster): RawObjectApi {
    let api = this.apis.get(cluster.name);
    if (!api) {
      try {
        api = makeObjectApi(
          loadKubeConfig({
            kubeconfig: cluster.kubeconfig,
            context: cluster.context,
            inCluster: cluster.inCluster,
          }),
        );
      } catch (err) {
        throw new Error(`cluster "${cluster.name}": ${(err as Error).message}`);
      }
      this.apis.set(cluster.name, api);
    }
    return api;
  }
}
