// What this process last wrote per report key (a status context on a commit, a check run), so that a re-run
// of the same commit does not write the same status again. Bounded: the oldest keys are forgotten first.
export class WrittenReports {
  private readonly entries = new Map<string, string>();

  constructor(private readonly capacity = 10_000) {}

  get(key: string): string | undefined {
    return this.entries.get(key);
  }

  set(key: string, fingerprint: string): void {
    this.entries.delete(key);
    this.entries.set(key, fingerprint);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
