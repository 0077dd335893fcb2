// The step every webhook handler ends with: a delivery seen before does nothing; a new one is queued and then
// remembered. Remembered only once queued (delivery-log.ts): a replica killed in between must not leave a
// mark that refuses GitHub's redelivery of work that was never queued.
import type { DeliveryLog } from "../../queue/delivery-log.js";
import type { EnqueueResult } from "../../queue/work-queue.js";

interface HandlerLog {
  info(msg: string): void;
  warn(obj: object, msg: string): void;
}

export async function enqueueDelivery(
  deliveries: DeliveryLog,
  id: string,
  log: HandlerLog,
  enqueue: () => Promise<EnqueueResult>,
): Promise<void> {
  if (!(await deliveries.accept(id))) return log.info("redelivery of an accepted delivery; ignored");
  let result: EnqueueResult;
  try {
    result = await enqueue();
  } catch (err) {
    deliveries.forget(id);
    throw err;
  }
  // A refused job was reported (and its delivery forgotten) by the queue's `refused` handler.
  if (!result.queued) return;
  // The work is queued; if this mark is lost a redelivery is refused by the queue itself (same origin).
  await deliveries.record(id).catch((err: unknown) => log.warn({ err }, "cannot remember the delivery"));
}
