// The pull request's one dry-run comment: collected over every cluster the stream reports on, written once
// when the stream closes. Clusters whose dry-run never started (diffs off, the job refused) are not in it.
import { fullName } from "../client.js";
import { upsertDiffComment } from "../views/pr-comment.js";
import { type ClusterDiff, diffComment } from "../views/pr-comment-report.js";
import { priorities } from "./planned-writes.js";
import type { ReporterContext, ReporterFactory, StreamEvent } from "./types.js";

export const prCommentReporter: ReporterFactory = ({ target, plan }: ReporterContext) => {
  const pr = target.pullRequest;
  if (target.kind !== "pull-request" || !pr) return undefined;
  const clusters = new Map<string, ClusterDiff>();
  return {
    on: ({ cluster, event }: StreamEvent) => {
      if (event.type === "run-started") clusters.set(cluster, { cluster, error: "not diffed" });
      if (!clusters.has(cluster)) return;
      if (event.type === "run-finished") clusters.set(cluster, { cluster, run: event.result });
      if (event.type === "run-stopped") clusters.set(cluster, { cluster, error: event.message });
    },
    close: () => {
      if (clusters.size === 0) return;
      const body = diffComment({
        baseSha: pr.baseSha,
        headSha: target.sha,
        clusters: [...clusters.values()],
      });
      plan.want({
        key: `comment ${fullName(target.repo)}#${pr.number}`,
        priority: priorities.summary,
        fingerprint: body,
        what: `dry-run comment on #${pr.number}`,
        send: async () => {
          const comment = await upsertDiffComment(target.github, target.repo, pr.number, body);
          target.log.info(
            { comment: comment.id, created: comment.created, length: body.length },
            "dry-run diff comment written",
          );
        },
      });
    },
  };
};
