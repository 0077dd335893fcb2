// issue_comment.created with a `/gitops` command → queue it; the permission check and the work happen in the
// job (jobs/command-job.ts), so the webhook is answered at once.
import type { Context } from "probot";
import type { DeliveryLog } from "../../queue/delivery-log.js";
import type { WorkQueue } from "../../queue/work-queue.js";
import { parseCommand } from "../commands/parse-command.js";
import type { GitOpsJob } from "../jobs/types.js";
import { enqueueDelivery } from "./enqueue-delivery.js";

export function onIssueComment(queue: WorkQueue<GitOpsJob>, deliveries: DeliveryLog) {
  return async (context: Context<"issue_comment.created">): Promise<void> => {
    const p = context.payload;
    // Bots (this one included) never command the bot.
    if (p.comment.user?.type === "Bot" || p.sender.type === "Bot") return;
    const command = parseCommand(p.comment.body ?? "");
    if (!command) return;
    const log = context.log.child({
      delivery: context.id,
      repo: p.repository.full_name,
      issue: p.issue.number,
    });
    const installation = p.installation;
    if (!installation) return log.warn("issue_comment without an installation; ignored");
    await enqueueDelivery(deliveries, context.id, log, () =>
      queue.enqueue({
        key: `command:${p.repository.full_name}#${p.issue.number}`,
        supersedes: false,
        payload: {
          type: "command",
          deliveryId: context.id,
          installationId: installation.id,
          owner: p.repository.owner.login,
          repo: p.repository.name,
          defaultBranch: p.repository.default_branch,
          issueNumber: p.issue.number,
          isPullRequest: Boolean(p.issue.pull_request),
          commentId: p.comment.id,
          user: p.comment.user?.login ?? p.sender.login,
          command,
        },
      }),
    );
  };
}
