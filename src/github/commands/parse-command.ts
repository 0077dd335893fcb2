// `/gitops <verb> [argument]` in an issue or pull request comment. Only the first line that starts with
// `/gitops` counts, and only among the commenter's own plain text (plain-lines.ts): a command inside a code
// block or span, an HTML comment or a quote is somebody's example or somebody else's words, never an order.
import { plainLines } from "./plain-lines.js";

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
  for (const { text } of plainLines(body)) {
    const line = text.trim();
    if (!/^\/gitops(\s|$)/.test(line)) continue;
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
