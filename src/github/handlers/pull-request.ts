// pull_request opened / synchronize / reopened / ready_for_review → queue a dry-run diff of its head.
import type { Context } from "probot";
import type { DeliveryLog } from "../../queue/delivery-log.js";
import type { WorkQueue } from "../../queue/work-queue.js";
import type { GitOpsJob } from "../jobs/types.js";
import { enqueueDelivery } from "./enqueue-delivery.js";

export const DIFF_ACTIONS = ["opened", "synchronize", "reopened", "ready_for_review"] as const;

export function onPullRequest(queue: WorkQueue<GitOpsJob>, deliveries: DeliveryLog) {
  return async (
    context: Context<
      | "pull_request.opened"
      | "pull_request.synchronize"
      | "pull_request.reopened"
      | "pull_request.ready_for_review"
    >,
  ): Promise<void> => {
    const p = context.payload;
    const pr = p.pull_request;
    const log = context.log.child({ delivery: context.id, repo: p.repository.full_name, pull: pr.number });
    const installation = p.installation;
    if (!installation) return log.warn("pull_request without an installation; ignored");
    await enqueueDelivery(deliveries, context.id, log, () =>
      queue.enqueue({
        key: `diff:${p.repository.full_name}#${pr.number}`,
        supersedes: true,
        payload: {
          type: "diff",
          deliveryId: context.id,
          installationId: installation.id,
          owner: p.repository.owner.login,
          repo: p.repository.name,
          defaultBranch: p.repository.default_branch,
          pullNumber: pr.number,
          baseBranch: pr.base.ref,
          baseSha: pr.base.sha,
          headSha: pr.head.sha,
          fork: pr.head.repo?.full_name !== p.repository.full_name,
        },
      }),
    );
  };
}
