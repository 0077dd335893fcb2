// A pull request dry-run's verdict for its gitops/diff/<cluster> status: what would change, or why it fails.
import { type RunResult, runSucceeded } from "../../reconcile/result.js";
import { runLine } from "./summary-line.js";

export function diffVerdict(
  run: RunResult,
  failOnPrune: boolean,
): { state: "success" | "failure"; description: string } {
  if (!runSucceeded(run)) return { state: "failure", description: runLine(run) };
  const all = [
    ...run.kustomizations.flatMap((k) => k.changes),
    ...(run.helmReleases ?? []).flatMap((h) => h.changes),
  ];
  const count = (a: string) => all.filter((c) => c.action === a).length;
  const prunes = count("deleted");
  if (failOnPrune && prunes > 0) {
    return {
      state: "failure",
      description: `would prune ${prunes} object(s); pruning is gated in .github/gitops.yaml`,
    };
  }
  const releases = (run.helmReleases ?? []).filter(
    (h) => h.action !== "unchanged" && h.action !== "none",
  ).length;
  return {
    state: "success",
    description: `would create ${count("created")}, change ${count("configured")}, prune ${prunes}${releases ? `; ${releases} Helm release(s) would change` : ""}`,
  };
}
