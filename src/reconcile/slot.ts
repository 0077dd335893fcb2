// The run loop's concurrency slot of the object being reconciled, so that its reconciler can hand the slot on
// while it only waits (a health check polling a rollout): waiting holds no kustomize process and few requests,
// and with `wait: true` on every Kustomization, rollouts would otherwise be waited for `concurrency` at a time.
import { AsyncLocalStorage } from "node:async_hooks";

interface Slot {
  release: () => void;
}

const current = new AsyncLocalStorage<Slot>();

/** Runs `fn` holding a slot that `release` frees; freed once, by the first of `yieldSlot` or the end of `fn`. */
export async function inSlot<T>(release: () => void, fn: () => Promise<T>): Promise<T> {
  let held = true;
  const slot: Slot = {
    release: () => {
      if (!held) return;
      held = false;
      release();
    },
  };
  try {
    return await current.run(slot, fn);
  } finally {
    slot.release();
  }
}

/** Frees the caller's slot for the next object (a no-op outside the run loop, or when already freed). */
export function yieldSlot(): void {
  current.getStore()?.release();
}
