// The drift issue of each cluster a reconcile reports on (views/drift-issue.ts): opened when the run found
// objects that drifted from Git (or the open one, found by its marker, edited in place), closed with a comment by
// the first run that succeeds without drift. A run that failed proves nothing about drift and changes nothing.
// Quiet when nothing changed: the plan skips a body equal to the last one this process wrote, and a run without
// drift writes only when this process last wrote drift for that cluster (after a restart, an issue left open is
// found again, and edited, by the next run with drift).
import { runSucceeded } from "../../reconcile/result.js";
import { fullName } from "../client.js";
import { closeDriftIssue, upsertDriftIssue } from "../views/drift-issue.js";
import { driftClosedComment, driftIssueBody, driftRows } from "../views/drift-issue-report.js";
import { priorities } from "./planned-writes.js";
import type { ReporterContext, ReporterFactory, StreamEvent } from "./types.js";
import type { WrittenReports } from "./written-reports.js";

const NO_DRIFT = "no drift";

/** Needs what this process wrote before (openReportStream passes it): whether a drift issue is open. */
export const driftIssueReporter: ReporterFactory = ({
  target,
  plan,
  written,
}: ReporterContext & { written?: WrittenReports }) => {
  if (target.kind !== "push") return undefined;
  return {
    on: ({ cluster, event }: StreamEvent) => {
      if (event.type !== "run-finished" || event.result.dryRun) return;
      const run = event.result;
      const rows = driftRows(run);
      const key = `drift issue ${fullName(target.repo)} ${cluster}`;
      const what = `drift issue of ${cluster}`;
      if (rows.length === 0) {
        const last = written?.get(key);
        if (!runSucceeded(run) || last === undefined || last === NO_DRIFT) return;
        plan.want({
          key,
          priority: priorities.summary,
          fingerprint: NO_DRIFT,
          what,
          send: async () => {
            const closed = await closeDriftIssue(
              target.github,
              target.repo,
              cluster,
              driftClosedComment(cluster, target.sha),
            );
            if (closed !== undefined)
              target.log.info({ issue: closed }, `no drift on ${cluster}: issue closed`);
          },
        });
        return;
      }
      const body = driftIssueBody(cluster, rows);
      plan.want({
        key,
        priority: priorities.summary,
        fingerprint: body,
        what,
        send: async () => {
          const issue = await upsertDriftIssue(target.github, target.repo, cluster, body);
          target.log.info(
            { issue: issue.number, objects: rows.length },
            `drift on ${cluster}: issue ${issue.action}`,
          );
        },
      });
    },
  };
};
