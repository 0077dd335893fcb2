// push → queue. Acknowledged at once; the work happens in the queue (jobs/push-job.ts).
import type { Context } from "probot";
import type { DeliveryLog } from "../../queue/delivery-log.js";
import type { WorkQueue } from "../../queue/work-queue.js";
import type { GitOpsJob } from "../jobs/types.js";
import { enqueueDelivery } from "./enqueue-delivery.js";

export function onPush(queue: WorkQueue<GitOpsJob>, deliveries: DeliveryLog) {
  return async (context: Context<"push">): Promise<void> => {
    const p = context.payload;
    const log = context.log.child({ delivery: context.id, repo: p.repository.full_name, ref: p.ref });
    if (p.deleted || !p.after || /^0+$/.test(p.after)) return log.info("branch deleted; ignored");
    if (!p.ref.startsWith("refs/heads/")) return log.info("not a branch push (tag); ignored");
    const installation = p.installation;
    if (!installation) return log.warn("push without an installation; ignored");
    await enqueueDelivery(deliveries, context.id, log, () =>
      queue.enqueue({
        key: `push:${p.repository.full_name}@${p.ref}`,
        supersedes: false,
        payload: {
          type: "push",
          deliveryId: context.id,
          installationId: installation.id,
          owner: p.repository.full_name.split("/")[0] ?? "",
          repo: p.repository.name,
          defaultBranch: p.repository.default_branch,
          branch: p.ref.slice("refs/heads/".length),
          sha: p.after,
          queuedAt: new Date().toISOString(),
        },
      }),
    );
  };
}
