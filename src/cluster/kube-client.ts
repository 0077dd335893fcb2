// The one way the engine reaches a cluster: a KubeConfig (a user's kubeconfig, a named context, or in-cluster)
// and @kubernetes/client-node's generic object API, returning plain JSON objects.
import {
  ApiException,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
} from "@kubernetes/client-node";

export interface ClusterTarget {
  /** Path to a kubeconfig; default: $KUBECONFIG or ~/.kube/config, or in-cluster config when neither exists. */
  kubeconfig?: string;
  /** Context in that kubeconfig; default: its current context. */
  context?: string;
  inCluster?: boolean;
}

/**
 * The generic object API, but answering with the JSON the API server sent rather than client-node's model
 * classes: diffs, hashing and inventories need the wire form (strings for timestamps, no class instances).
 */
export class RawObjectApi extends KubernetesObjectApi {
  static fromKubeConfig(kc: KubeConfig): RawObjectApi {
    const api = kc.makeApiClient(RawObjectApi);
    api.setDefaultNamespace(kc);
    return api;
  }

  /** Whether a kind is namespaced, from the API server's discovery; undefined when the kind is unknown. */
  async isNamespaced(apiVersion: string, kind: string): Promise<boolean | undefined> {
    try {
      return (await this.resource(apiVersion, kind))?.namespaced;
    } catch {
      return undefined;
    }
  }

  protected override async processResponse<T extends KubernetesObject>(
    response: Parameters<KubernetesObjectApi["processResponse"]>[0],
  ): Promise<T> {
    const text = await response.body.text();
    if (response.httpStatusCode >= 200 && response.httpStatusCode <= 299) {
      return JSON.parse(text) as T;
    }
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    throw new ApiException(response.httpStatusCode, "Unsuccessful HTTP Request", body, response.headers);
  }
}

export function loadKubeConfig(target: ClusterTarget = {}): KubeConfig {
  const kc = new KubeConfig();
  if (target.inCluster) {
    kc.loadFromCluster();
  } else if (target.kubeconfig) {
    kc.loadFromFile(target.kubeconfig);
  } else {
    kc.loadFromDefault();
  }
  if (target.context) {
    if (!kc.getContextObject(target.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new Error(
        `kubeconfig has no context "${target.context}" (contexts: ${known.join(", ") || "none"})`,
      );
    }
    kc.setCurrentContext(target.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new Error(
      "no Kubernetes cluster configured: set KUBECONFIG, pass --kubeconfig, or run in a cluster",
    );
  }
  return kc;
}

export function makeObjectApi(kc: KubeConfig): RawObjectApi {
  return RawObjectApi.fromKubeConfig(kc);
}

/** The HTTP status of a failed API call, or undefined for errors that are not API answers. */
export function apiStatus(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** The API server's own message for a failed call (its Status object's message), else the error's message. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as { message?: string } | string | undefined;
    if (body && typeof body === "object" && body.message) return body.message;
    if (typeof body === "string" && body) return body;
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}
