/** Maps with at most `limit` calls in flight, keeping result order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  });
  await Promise.all(workers);
  return results;
}

export interface Semaphore {
  acquire: () => Promise<void>;
  release: () => void;
}

/** A counting semaphore: `acquire` resolves when one of `slots` is free; `release` hands it to the next waiter. */
export function semaphore(slots: number): Semaphore {
  let free = Math.max(1, slots);
  const waiters: (() => void)[] = [];
  return {
    acquire: () => {
      if (free > 0) {
        free--;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    release: () => {
      const next = waiters.shift();
      if (next) next();
      else free++;
    },
  };
}
