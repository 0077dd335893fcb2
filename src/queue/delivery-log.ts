// Remembers webhook deliveries (X-GitHub-Delivery) that were accepted, so a redelivery of one that is queued,
// running or done does no work twice. A delivery whose work failed is forgotten, so redelivering it retries.
// Bounded: the oldest entries go first (GitHub redelivers within days, not millions of deliveries later).

export interface DeliveryLog {
  /**
   * True if the delivery is new (and is now recorded); false if it was seen before. Async: with several
   * replicas the log is shared (Redis, redis-delivery-log.ts).
   */
  accept(id: string): Promise<boolean>;
  /**
   * The delivery's work is queued: remember it from now on. A log shared by several processes (Redis) only
   * checks in `accept` and writes here, so that a process killed between the two leaves nothing behind that
   * would refuse the redelivery (the queue itself refuses a second job from one delivery, redis-queue.ts).
   */
  record(id: string): Promise<void>;
  /** Best effort, never throws: a failed job's delivery may be redelivered. */
  forget(id: string): void;
  /** Tells `observer` about every redelivery refused from now on (metrics). */
  observe?(observer: DeliveryObserver): void;
}

export interface DeliveryObserver {
  /** A delivery seen before arrived again and does no work. */
  duplicate?(id: string): void;
}

export class InMemoryDeliveryLog implements DeliveryLog {
  private readonly ids = new Set<string>();
  private readonly observers: DeliveryObserver[] = [];
  constructor(private readonly capacity = 10_000) {}

  observe(observer: DeliveryObserver): void {
    this.observers.push(observer);
  }

  async accept(id: string): Promise<boolean> {
    if (this.ids.has(id)) {
      for (const o of this.observers) {
        try {
          o.duplicate?.(id);
        } catch {
          // A broken metric never refuses a delivery.
        }
      }
      return false;
    }
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return true;
  }

  /** Recorded at `accept` already: one process, nothing to lose between the two. */
  async record(_id: string): Promise<void> {}

  forget(id: string): void {
    this.ids.delete(id);
  }
}
