// What a chart sees as `.Capabilities` when it is rendered without cluster access (dry-runs): the server's
// version and the API versions it serves, read once per run by the bot itself through discovery and handed to
// `helm template` as flags — the same facts helm would discover, without giving helm (and so the chart's
// `lookup`) a way into the cluster.
import {
  ApisApi,
  CoreApi,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  VersionApi,
} from "@kubernetes/client-node";
import { mapLimit } from "../reconcile/concurrency.js";

export interface ClusterCapabilities {
  /** `v1.35.4` */
  kubeVersion?: string;
  /** `group/version` and `group/version/Kind` (`v1`, `v1/ConfigMap` for the core group), as helm lists them. */
  apiVersions: string[];
}

/** Discovery of the cluster `kc` points at; an unreadable group is left out rather than failing the run. */
export async function discoverCapabilities(kc: KubeConfig): Promise<ClusterCapabilities> {
  const version = await kc.makeApiClient(VersionApi).getCode();
  const core = await kc.makeApiClient(CoreApi).getAPIVersions();
  const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
  const groupVersions = [
    ...core.versions,
    ...groups.groups.flatMap((g) => g.versions.map((v) => v.groupVersion)),
  ];
  const custom = kc.makeApiClient(CustomObjectsApi);
  const coreV1 = kc.makeApiClient(CoreV1Api);
  const kinds = await mapLimit(groupVersions, 8, async (gv) => {
    try {
      const list = gv.includes("/")
        ? await custom.getAPIResources({
            group: gv.split("/")[0] as string,
            version: gv.split("/")[1] as string,
          })
        : await coreV1.getAPIResources();
      return list.resources.filter((r) => !r.name.includes("/")).map((r) => `${gv}/${r.kind}`);
    } catch {
      return [];
    }
  });
  return {
    kubeVersion: version.gitVersion,
    apiVersions: [...new Set([...groupVersions, ...kinds.flat()])].sort(),
  };
}

/** `helm template` flags for these capabilities. */
export function capabilityArgs(caps: ClusterCapabilities | undefined): string[] {
  if (!caps) return [];
  const args: string[] = [];
  // helm wants `vMAJOR.MINOR.PATCH`; build metadata (`+k3s1`) is fine, anything else is left to helm's default.
  if (caps.kubeVersion && /^v?\d+\.\d+\.\d+/.test(caps.kubeVersion))
    args.push("--kube-version", caps.kubeVersion);
  if (caps.apiVersions.length > 0) args.push("--api-versions", caps.apiVersions.join(","));
  return args;
}
