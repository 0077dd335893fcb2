// One order per report key across every plan of the process. A commit's `gitops/<cluster>` is written by more
// than one plan: the push job's "queued" (when the operator asks for pending statuses) and the run's result.
// Within one plan a newer state replaces an older one; across plans this ledger does the same: every planned
// write claims a generation for its key, a write whose generation is no longer the newest is dropped, and two
// plans never have a request for the same key in flight at once. So a "queued" retried while GitHub fails can
// never land after the final status. Bounded: the oldest keys are forgotten first.
export class WriteLedger {
  private generation = 0;
  private readonly entries = new Map<string, { claimed: number; sent?: string; busy?: Promise<void> }>();

  constructor(private readonly capacity = 10_000) {}

  private entry(key: string) {
    let e = this.entries.get(key);
    if (!e) {
      e = { claimed: 0 };
      this.entries.set(key, e);
      if (this.entries.size > this.capacity) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined && oldest !== key) this.entries.delete(oldest);
      }
    }
    return e;
  }

  /** A write for `key` was planned: its generation. */
  claim(key: string): number {
    const generation = ++this.generation;
    this.entry(key).claimed = generation;
    return generation;
  }

  /** Whether no write for `key` was planned after `generation`. */
  current(key: string, generation: number): boolean {
    const claimed = this.entries.get(key)?.claimed;
    return claimed === undefined || claimed <= generation;
  }

  /** What this process last sent for `key`, from any plan. */
  lastSent(key: string): string | undefined {
    return this.entries.get(key)?.sent;
  }

  /** Records what was just sent for `key`. */
  sent(key: string, fingerprint: string): void {
    this.entry(key).sent = fingerprint;
  }

  /** Runs `send` once no other plan has a request for `key` in flight. */
  async exclusive<T>(key: string, send: () => Promise<T>): Promise<T> {
    const e = this.entry(key);
    while (e.busy) await e.busy;
    let release: () => void = () => {};
    e.busy = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      return await send();
    } finally {
      e.busy = undefined;
      release();
    }
  }
}

/** The process's ledger: every report plan of this process shares it. */
export const processWriteLedger = new WriteLedger();
