// The check run of a push's cluster from the stream: in progress when the run starts, completed with the
// ChangeSet report and the dependsOn graph when it ends, or with why it stopped. A run stopped before the push
// job could create a check run (the cluster is not allowed) gets a completed one of its own; a run whose queued
// check run GitHub would not create (CHECK_RUN_NOT_CREATED) creates one in progress when it starts.
import type { RunGraph } from "../../reconcile/events.js";
import { fullName } from "../client.js";
import {
  CHECK_RUN_NOT_CREATED,
  checkRunName,
  completeCheckRun,
  createCompletedCheckRun,
  createFailedCheckRun,
  createInProgressCheckRun,
  markCheckRunInProgress,
} from "../views/check-run.js";
import { type CheckRunReport, checkRunReport } from "../views/check-run-report.js";
import { CHECK_RUN_TEXT_LIMIT } from "../views/markdown-budget.js";
import { notificationErrorsSection } from "./notification.js";
import { checkRunWriteKey, priorities } from "./planned-writes.js";
import type { ReporterContext, ReporterFactory, StreamEvent } from "./types.js";

export const checkRunReporter: ReporterFactory = ({ target, plan }: ReporterContext) => {
  if (target.kind !== "push") return undefined;
  const graphs = new Map<string, RunGraph>();
  // Check runs this stream created itself, by cluster (the push job could not: CHECK_RUN_NOT_CREATED).
  const created = new Map<string, number>();
  const key = (id: number) => checkRunWriteKey(fullName(target.repo), target.sha, id);
  const ownKey = (cluster: string) => `check run ${fullName(target.repo)}@${target.sha} ${cluster} (own)`;
  const complete = (cluster: string, id: number, report: CheckRunReport) => {
    const fingerprint = `${report.conclusion} ${report.title} ${report.summary}`;
    if (id !== CHECK_RUN_NOT_CREATED) {
      plan.want({
        key: key(id),
        priority: priorities.aggregate,
        fingerprint,
        what: `check run ${id}`,
        send: () => completeCheckRun(target.github, target.repo, id, report),
      });
      return;
    }
    // After the creation planned at the start (same priority, planned first, so sent first).
    plan.want({
      key: `${ownKey(cluster)} completed`,
      priority: priorities.aggregate,
      fingerprint,
      what: `check run ${checkRunName(cluster)} (completed)`,
      send: () => {
        const own = created.get(cluster);
        return own === undefined
          ? createCompletedCheckRun(target.github, target.repo, target.sha, cluster, report)
          : completeCheckRun(target.github, target.repo, own, report);
      },
    });
  };
  return {
    on: ({ cluster, event }: StreamEvent) => {
      const id = target.checkRuns?.[cluster];
      switch (event.type) {
        case "run-started":
          if (id === CHECK_RUN_NOT_CREATED) {
            plan.want({
              key: `${ownKey(cluster)} created`,
              priority: priorities.aggregate,
              fingerprint: "in_progress",
              what: `check run ${checkRunName(cluster)} (in progress)`,
              send: async () => {
                created.set(
                  cluster,
                  await createInProgressCheckRun(target.github, target.repo, target.sha, cluster),
                );
              },
            });
            return;
          }
          // A key of its own: the in-progress mark is never dropped, so GitHub sees queued → in progress → completed.
          if (id !== undefined) {
            plan.want({
              key: `${key(id)} in progress`,
              priority: priorities.aggregate,
              fingerprint: "in_progress",
              what: `check run ${id} (in progress)`,
              send: () => markCheckRunInProgress(target.github, target.repo, id),
            });
          }
          return;
        case "planned":
          graphs.set(cluster, event.graph);
          return;
        case "run-finished": {
          if (id === undefined) return;
          const report = checkRunReport(cluster, target.sha, event.result, graphs.get(cluster));
          // Providers and Alerts that cannot be used are said here; the run's conclusion is the objects'.
          const notes = notificationErrorsSection(target.notifications?.sets.get(cluster));
          const room = CHECK_RUN_TEXT_LIMIT - report.summary.length;
          if (notes && room > 200) {
            report.summary += notes.length <= room ? notes : `${notes.slice(0, room - 2)}…`;
          }
          complete(cluster, id, report);
          return;
        }
        case "run-stopped": {
          const title = `${cluster}: ${event.message}`.slice(0, 255);
          const summary =
            event.detail ??
            (event.conclusion === "skipped" ? event.message : `Nothing was applied: ${event.message}`);
          if (id !== undefined) {
            complete(cluster, id, { title, summary, conclusion: event.conclusion });
          } else if (event.conclusion === "failure") {
            plan.want({
              key: `${key(0)} ${target.sha} ${cluster}`,
              priority: priorities.aggregate,
              fingerprint: `${title} ${summary}`,
              what: `check run ${checkRunName(cluster)}`,
              send: () =>
                createFailedCheckRun(
                  target.github,
                  target.repo,
                  target.sha,
                  checkRunName(cluster),
                  title,
                  summary,
                ),
            });
          }
          return;
        }
      }
    },
  };
};
