// A reconcile queued twice for one delivery: its push job was re-run on another replica after the first
// replica was lost (Redis queue, stalled-job recovery) and opened a second check run before the queue refused
// the second reconcile as a duplicate. The first job reports; the second check run is completed as skipped,
// pointing at it, so no check run stays queued. No status is written: the first run's status stands.
import { fullName } from "../client.js";
import { CHECK_RUN_NOT_CREATED, completeCheckRun } from "../views/check-run.js";
import { type GitOpsJob, type JobDeps, jobRepo } from "./types.js";

export function closeDuplicateJob(
  deps: () => JobDeps,
): (dropped: GitOpsJob, kept: GitOpsJob | undefined) => Promise<void> {
  return async (dropped, kept) => {
    if (dropped.type !== "reconcile" || dropped.checkRunId === CHECK_RUN_NOT_CREATED) return;
    if (kept?.type === "reconcile" && kept.checkRunId === dropped.checkRunId) return;
    const d = deps();
    const repo = jobRepo(dropped);
    d.log.info(
      { repo: fullName(repo), sha: dropped.sha, cluster: dropped.cluster.name },
      "the same delivery's reconcile was already queued; its first check run reports",
    );
    const github = await d.github(dropped.installationId);
    await completeCheckRun(github, repo, dropped.checkRunId, {
      conclusion: "skipped",
      title: "Reported by an earlier check run of this commit",
      summary: `This push (delivery \`${dropped.deliveryId}\`) was already queued for \`${dropped.cluster.name}\`${
        kept?.type === "reconcile" && kept.checkRunId !== CHECK_RUN_NOT_CREATED
          ? ` and reports on check run ${kept.checkRunId}`
          : ""
      }: gitops-bot picked its push up again after a replica was lost, and did not run it twice.`,
    });
  };
}
