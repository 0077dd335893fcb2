// Commit statuses from the stream. A push: `gitops/<cluster>` once, final, then one final status per
// Kustomization (`gitops/<cluster>/<name>`) and HelmRelease (`gitops/<cluster>/helmrelease/<name>`); pending
// ones only when the operator asks (reports.pendingStatuses: then the push job writes `gitops/<cluster>` "queued" and
// each object gets "reconciling" as it starts, unless the run has more than PENDING_STATUS_LIMIT of them). A pull request: `gitops/diff/<cluster>`, pending
// while the dry-run runs, then its verdict.
import type { ObjectResult, RunEvent } from "../../reconcile/events.js";
import { type KustomizationStatus, runSucceeded } from "../../reconcile/result.js";
import { fullName } from "../client.js";
import { type StatusState, setStatus, statusContext } from "../views/commit-status.js";
import { diffVerdict } from "../views/diff-verdict.js";
import { helmReleaseLine, kustomizationLine, runLine } from "../views/summary-line.js";
import { ObjectLabels } from "./object-labels.js";
import { priorities } from "./planned-writes.js";
import type { ReporterContext, ReporterFactory, StreamEvent } from "./types.js";

/** Above this many Kustomizations and HelmReleases, no pending statuses even when asked: GitHub limits writes. */
export const PENDING_STATUS_LIMIT = 20;

export function objectState(status: KustomizationStatus): "success" | "failure" | "error" {
  if (status === "Ready" || status === "Suspended") return "success";
  return status === "DependencyNotReady" ? "error" : "failure";
}

/** The status state of a run that stopped without a result. */
export function stoppedState(stop: Extract<RunEvent, { type: "run-stopped" }>): StatusState {
  if (stop.state) return stop.state;
  if (stop.conclusion === "failure") return "failure";
  // A skip that names no error state is a supersession (a newer commit is the branch head, or a pull request
  // not diffed by choice): not a failure, and commit statuses have no neutral state, so success whose
  // description says it was not applied. Everything that stopped a push for another reason says `error`.
  return "success";
}

export const commitStatusReporter: ReporterFactory = ({ target, plan }: ReporterContext) => {
  const labels = new Map<string, ObjectLabels>();
  const labelsOf = (cluster: string) => {
    const known = labels.get(cluster);
    if (known) return known;
    const fresh = new ObjectLabels();
    labels.set(cluster, fresh);
    return fresh;
  };
  const pendingAllowed = new Map<string, boolean>();
  const write = (context: string, state: StatusState, description: string, priority: number) =>
    plan.want({
      key: `status ${fullName(target.repo)}@${target.sha} ${context}`,
      priority,
      fingerprint: `${state} ${description}`,
      what: `status ${context}`,
      send: () => setStatus(target.github, target.repo, target.sha, { context, state, description }),
    });
  const objectContext = (cluster: string, o: { kind: string; namespace: string; name: string }) => {
    const label = labelsOf(cluster).get(o);
    return o.kind === "HelmRelease"
      ? statusContext.helmRelease(cluster, label)
      : statusContext.kustomization(cluster, label);
  };
  const objectStatus = (cluster: string, outcome: ObjectResult) => {
    const r = outcome.result;
    const line =
      outcome.kind === "HelmRelease" ? helmReleaseLine(outcome.result) : kustomizationLine(outcome.result);
    write(
      objectContext(cluster, { kind: outcome.kind, namespace: r.namespace, name: r.name }),
      objectState(r.status),
      line,
      priorities.object,
    );
  };

  const onPush = ({ cluster, event }: StreamEvent) => {
    switch (event.type) {
      // The cluster's pending status ("queued", when asked for) is the push job's; the check run shows progress.
      case "planned":
        labelsOf(cluster).add(event.graph.nodes);
        pendingAllowed.set(cluster, event.graph.nodes.length <= PENDING_STATUS_LIMIT);
        return;
      case "object-started":
        if (target.pendingStatuses && pendingAllowed.get(cluster)) {
          write(
            objectContext(cluster, event.event.involvedObject),
            "pending",
            "reconciling",
            priorities.object,
          );
        }
        return;
      case "run-finished": {
        const run = event.result;
        const ok = runSucceeded(run);
        // The cluster's status first: it is the one branch protection and the bench wait for.
        write(statusContext.cluster(cluster), ok ? "success" : "failure", runLine(run), priorities.aggregate);
        for (const k of run.kustomizations) objectStatus(cluster, { kind: "Kustomization", result: k });
        for (const h of run.helmReleases ?? []) objectStatus(cluster, { kind: "HelmRelease", result: h });
        return;
      }
      case "run-stopped":
        write(statusContext.cluster(cluster), stoppedState(event), event.message, priorities.aggregate);
        return;
    }
  };

  const onPullRequest = ({ cluster, event }: StreamEvent) => {
    const context = statusContext.diff(cluster);
    switch (event.type) {
      case "run-started":
        write(context, "pending", "dry-run in progress", priorities.aggregate);
        return;
      case "run-finished": {
        const verdict = diffVerdict(event.result, target.pullRequest?.failOnPrune ?? false);
        write(context, verdict.state, verdict.description, priorities.aggregate);
        return;
      }
      case "run-stopped":
        write(context, stoppedState(event), event.message, priorities.aggregate);
        return;
    }
  };
  return { on: target.kind === "push" ? onPush : onPullRequest };
};
