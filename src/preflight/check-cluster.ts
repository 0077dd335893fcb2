// `gitops-bot check` and the server's start-up check, for one cluster: can it be reached, which Kubernetes it
// runs, and whether the bot (and the ServiceAccounts it acts as) may do everything the tree needs.
import { type KubeConfig, VersionApi } from "@kubernetes/client-node";
import { apiMessage, makeObjectApi, type RawObjectApi } from "../cluster/kube-client.js";
import type { Requirement } from "../cluster/preflight/permission.js";
import type { TenancyPolicy } from "../reconcile/tenancy.js";
import { type AccessResult, reviewRequirements } from "./access.js";
import { resolveKinds } from "./kinds.js";
import { treeRequirements } from "./requirements.js";
import type { CheckedTree } from "./tree.js";

export interface ClusterCheckTarget {
  /** The operator's name for the cluster, or the kubeconfig context. */
  name: string;
  kubeConfig: KubeConfig;
  /** A tree to check permissions for; without one only what every run needs is checked. */
  tree?: CheckedTree;
  /** The grant of the repository the tree belongs to (a platform repository when absent). */
  tenancy?: TenancyPolicy;
}

export interface ClusterCheck {
  cluster: string;
  server: string;
  reachable: boolean;
  /** `v1.35.4`, when reachable. */
  serverVersion?: string;
  /** Why the cluster could not be reached or checked. */
  error?: string;
  permissions: AccessResult[];
  notes: string[];
  ok: boolean;
}

/** Everything one API request needs to answer within, so a black-holed server does not hang start-up. */
const VERSION_TIMEOUT_MS = 10_000;

async function serverVersion(kc: KubeConfig): Promise<string> {
  const version = kc.makeApiClient(VersionApi).getCode();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${VERSION_TIMEOUT_MS / 1000}s`)),
      VERSION_TIMEOUT_MS,
    );
  });
  try {
    return (await Promise.race([version, timeout])).gitVersion;
  } finally {
    clearTimeout(timer);
  }
}

async function requirementsOf(
  api: RawObjectApi,
  target: ClusterCheckTarget,
): Promise<{ requirements: Requirement[]; notes: string[] }> {
  if (!target.tree) {
    return {
      requirements: [
        {
          verb: "list",
          group: "",
          resource: "configmaps",
          reasons: ["finding the inventories of Kustomizations removed from Git (to prune them)"],
        },
      ],
      notes: [],
    };
  }
  const kindOf = await resolveKinds(api, target.tree.plan);
  return treeRequirements({ ...target.tree, tenancy: target.tenancy, kindOf });
}

export async function checkCluster(target: ClusterCheckTarget): Promise<ClusterCheck> {
  const server = target.kubeConfig.getCurrentCluster()?.server ?? "(no server)";
  const base = { cluster: target.name, server, permissions: [], notes: [] };
  let version: string;
  try {
    version = await serverVersion(target.kubeConfig);
  } catch (err) {
    return { ...base, reachable: false, ok: false, error: `cannot reach ${server}: ${apiMessage(err)}` };
  }
  try {
    const api = makeObjectApi(target.kubeConfig);
    const { requirements, notes } = await requirementsOf(api, target);
    const permissions = await reviewRequirements(api, requirements);
    return {
      ...base,
      reachable: true,
      serverVersion: version,
      permissions,
      notes,
      ok: permissions.every((p) => p.allowed),
    };
  } catch (err) {
    return { ...base, reachable: true, serverVersion: version, ok: false, error: apiMessage(err) };
  }
}
