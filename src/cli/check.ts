// `gitops-bot check`: before the first push, per cluster — reachable, which Kubernetes, kustomize and helm
// present, and every permission a tree needs (SelfSubjectAccessReview per verb, resource and namespace).
import { readFileSync } from "node:fs";
import type { KubeConfig } from "@kubernetes/client-node";
import { loadKubeConfig } from "../cluster/kube-client.js";
import { parseOperatorConfig, repositoryGrant } from "../config/operator-config.js";
import {
  type CheckedTree,
  type ClusterCheck,
  type ClusterCheckTarget,
  checkCluster,
  checkTools,
  loadTree,
  renderClusterCheck,
  renderTools,
} from "../preflight/index.js";
import { tenancyFromGrant } from "../reconcile/tenancy.js";
import type { FlagSpecs } from "./args.js";
import { runCommand } from "./command.js";
import { type CliIO, UsageError } from "./io.js";
import { locate } from "./repo-root.js";

export const checkUsage = `Usage: gitops-bot check [<repo checkout> <cluster-path>] [options]

Checks each cluster before the first reconcile (like flux check --pre): that it answers, its Kubernetes
version, the kustomize and helm binaries, and — given a repository checkout and a cluster path — every
permission the tree needs (apply each kind in each namespace, CRDs, Namespaces, the Secrets and ConfigMaps
it reads, the ServiceAccounts it acts as, the inventories), asked of the API server by SelfSubjectAccessReview.
Exit status: 0 everything allowed, 1 something missing (each listed with why it is needed), 2 usage error.

Options:
  --kubeconfig <path>       Kubeconfig (default: $KUBECONFIG or ~/.kube/config)
  --context <name>          Kubeconfig context (default: the current context)
  --config <file>           Operator file (gitops-bot.yaml): check each of its clusters instead
  --repository <owner/repo> With --config: check with the grant this repository has on each cluster
  -o, --output <fmt>        text (default) or json
  -h, --help                Show this help
`;

interface Target extends ClusterCheckTarget {
  /** Why the cluster is not checked (its kubeconfig does not load, the repository is not bound). */
  skipped?: string;
}

function kubeConfigTarget(name: string, load: () => KubeConfig): Target | { name: string; error: string } {
  try {
    return { name, kubeConfig: load() };
  } catch (err) {
    return { name, error: (err as Error).message };
  }
}

function operatorTargets(
  file: string,
  repository: string | undefined,
  tree: CheckedTree | undefined,
): (Target | { name: string; error: string })[] {
  const config = parseOperatorConfig(readFileSync(file, "utf8"), file);
  if (config.clusters.length === 0) throw new UsageError(`${file} configures no clusters`);
  return config.clusters.map((cluster) => {
    const target = kubeConfigTarget(cluster.name, () =>
      loadKubeConfig({
        kubeconfig: cluster.kubeconfig,
        kubeconfigFrom: `cluster ${cluster.name} in ${file}`,
        context: cluster.context,
        inCluster: cluster.inCluster,
      }),
    );
    if ("error" in target || !repository) return { ...target, ...(tree ? { tree } : {}) };
    const grant = repositoryGrant(cluster, repository);
    if (!grant) return { ...target, skipped: `repository ${repository} may not target this cluster` };
    return {
      ...target,
      tenancy: tenancyFromGrant(grant, repository, cluster.name),
      ...(tree ? { tree } : {}),
    };
  });
}

export function checkCommand(args: string[], io: CliIO): Promise<number> {
  const frame = { name: "gitops-bot check", usage: checkUsage, flags };
  return runCommand(io, args, frame, async ({ values, positionals }) => {
    const output = values.output ?? "text";
    if (output !== "text" && output !== "json") throw new UsageError("--output must be one of text, json");
    if (positionals.length !== 0 && positionals.length !== 2) {
      throw new UsageError("expects no arguments, or a <repo checkout> and a <cluster-path>");
    }
    if (values.repository && !values.config) throw new UsageError("--repository needs --config");
    if (values.config && (values.kubeconfig || values.context)) {
      throw new UsageError("--config names each cluster's kubeconfig; leave out --kubeconfig and --context");
    }
    let tree: CheckedTree | undefined;
    if (positionals.length === 2) {
      const { repoDir, clusterPath } = locate(positionals[1] as string, positionals[0]);
      tree = await loadTree(repoDir, clusterPath);
    }
    const targets = values.config
      ? operatorTargets(values.config, values.repository, tree)
      : [
          kubeConfigTarget(values.context ?? "current context", () =>
            loadKubeConfig({
              kubeconfig: values.kubeconfig,
              kubeconfigFrom: "--kubeconfig",
              context: values.context,
            }),
          ),
        ].map((t) => ({
          ...t,
          // Named after the context the kubeconfig selected.
          ...("kubeConfig" in t ? { name: t.kubeConfig.currentContext || t.name } : {}),
          ...(tree ? { tree } : {}),
        }));

    const tools = await checkTools();
    const checks: (
      | ClusterCheck
      | { cluster: string; skipped: string }
      | { cluster: string; error: string }
    )[] = [];
    for (const t of targets) {
      if ("error" in t) checks.push({ cluster: t.name, error: t.error });
      else if (t.skipped) checks.push({ cluster: t.name, skipped: t.skipped });
      else checks.push(await checkCluster(t));
    }
    const ok =
      tools.every((t) => t.ok) && checks.every((c) => "skipped" in c || ("ok" in c && c.ok === true));
    if (output === "json") {
      io.out.write(`${JSON.stringify({ ok, tools, clusters: checks }, null, 2)}\n`);
    } else {
      let text = renderTools(tools);
      for (const c of checks) {
        if ("skipped" in c) text += `◎ cluster ${c.cluster}: not checked (${c.skipped})\n`;
        else if (!("ok" in c)) text += `◎ cluster ${c.cluster}\n✗ ${c.error}\n`;
        else text += renderClusterCheck(c);
      }
      if (tree) for (const note of tree.plan.notes) text += `note: ${note}\n`;
      text += ok ? "✔ all checks passed\n" : "✗ some checks failed\n";
      io.out.write(text);
    }
    return ok ? 0 : 1;
  });
}

const flags = {
  kubeconfig: { type: "string" },
  context: { type: "string" },
  config: { type: "string" },
  repository: { type: "string" },
  output: { type: "string", short: "o" },
} as const satisfies FlagSpecs;
