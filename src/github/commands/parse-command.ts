// `/gitops <verb> [argument]` in an issue or pull request comment. Only the first line that starts with
// `/gitops` counts, and only among the commenter's own plain text (plain-lines.ts): a command inside a code
// block or span, an HTML comment or a quote is somebody's example or somebody else's words, never an order.
import { namespaceError, reconcilerNameError } from "../../flux/names.js";
import { plainLines } from "./plain-lines.js";

/** A cluster name in .github/gitops.yaml and the operator config: a DNS label. */
const CLUSTER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export type GitOpsCommand =
  | { verb: "diff" }
  | { verb: "reconcile"; cluster?: string }
  | { verb: "images" }
  | { verb: "suspend" | "resume"; cluster?: string; kustomization?: { namespace: string; name: string } }
  | { verb: "help" }
  | { verb: "unknown"; text: string };

export const COMMAND_HELP = [
  "`/gitops diff` — on a pull request: dry-run its head against the live clusters again and update the diff comment",
  "`/gitops reconcile [cluster]` — reconcile the tracked branch's head now (all its clusters, or one)",
  "`/gitops suspend [cluster] [kustomization]` — stop reconciling a Kustomization (`name` or `namespace/name`; all of the cluster's, or every cluster's) until resumed; kept in the cluster, shown as Suspended from the next run",
  "`/gitops resume [cluster] [kustomization]` — reconcile it again (at once)",
  "`/gitops images` — scan registries now and refresh the image-update pull requests",
  "`/gitops help` — this list",
].join("\n");

export function parseCommand(body: string): GitOpsCommand | undefined {
  for (const { text } of plainLines(body)) {
    const line = text.trim();
    if (!/^\/gitops(\s|$)/.test(line)) continue;
    const [, verb = "help", arg, second, ...rest] = line.split(/\s+/);
    switch (verb) {
      case "diff":
        return { verb: "diff" };
      case "reconcile":
        return arg ? { verb: "reconcile", cluster: arg } : { verb: "reconcile" };
      case "images":
        return { verb: "images" };
      case "suspend":
      case "resume":
        return suspension(verb, line, arg, second, rest.length > 0);
      case "help":
        return { verb: "help" };
      default:
        return { verb: "unknown", text: line };
    }
  }
  return undefined;
}

/** `suspend|resume [cluster] [kustomization]`: names checked here, so nothing odd reaches the API server. */
function suspension(
  verb: "suspend" | "resume",
  line: string,
  cluster: string | undefined,
  kustomization: string | undefined,
  extra: boolean,
): GitOpsCommand {
  if (extra) return { verb: "unknown", text: line };
  if (cluster !== undefined && !CLUSTER_NAME.test(cluster)) return { verb: "unknown", text: line };
  if (kustomization === undefined) return cluster ? { verb, cluster } : { verb };
  const parts = kustomization.split("/");
  const [namespace, name] = parts.length === 2 ? parts : ["flux-system", parts[0]];
  if (parts.length > 2 || !namespace || !name || namespaceError(namespace) || reconcilerNameError(name))
    return { verb: "unknown", text: line };
  return { verb, ...(cluster ? { cluster } : {}), kustomization: { namespace, name } };
}
