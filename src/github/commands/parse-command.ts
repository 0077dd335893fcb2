// `/gitops <verb> [argument]` in an issue or pull request comment. Only the first line that starts with
// `/gitops` counts; quoted lines (`> /gitops ...`) and code blocks do not.

export type GitOpsCommand =
  | { verb: "diff" }
  | { verb: "reconcile"; cluster?: string }
  | { verb: "images" }
  | { verb: "help" }
  | { verb: "unknown"; text: string };

export const COMMAND_HELP = [
  "`/gitops diff` — on a pull request: dry-run its head against the live clusters again and update the diff comment",
  "`/gitops reconcile [cluster]` — reconcile the tracked branch's head now (all its clusters, or one)",
  "`/gitops images` — scan registries now and refresh the image-update pull requests",
  "`/gitops help` — this list",
].join("\n");

export function parseCommand(body: string): GitOpsCommand | undefined {
  let inFence = false;
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith("```")) inFence = !inFence;
    if (inFence || !/^\/gitops(\s|$)/.test(line)) continue;
    const [, verb = "help", arg] = line.split(/\s+/);
    switch (verb) {
      case "diff":
        return { verb: "diff" };
      case "reconcile":
        return arg ? { verb: "reconcile", cluster: arg } : { verb: "reconcile" };
      case "images":
        return { verb: "images" };
      case "help":
        return { verb: "help" };
      default:
        return { verb: "unknown", text: line };
    }
  }
  return undefined;
}
