// A run's report stream: events go in (from the job and the engine), every registered reporter gets each event
// in order on a chain of its own, and their writes go through one plan. Emitting never waits and never throws:
// a reporter's failure is logged and stays its own, and the run goes on. `close()` is where a job waits for
// its reports, after the run, within a bound.
import type { RunEvent, RunEventSink } from "../../reconcile/events.js";
import { PlannedWrites, type RetryPolicy } from "./planned-writes.js";
import type { Reporter, ReporterFactory, ReportTarget } from "./types.js";
import { WrittenReports } from "./written-reports.js";

export interface ReportStreamOptions {
  reporters: Record<string, ReporterFactory>;
  written?: WrittenReports;
  retry?: RetryPolicy;
  /** The longest `close()` waits for reports still being written (they go on in the background). */
  closeTimeoutMs?: number;
}

const terminal = new Set<RunEvent["type"]>(["run-finished", "run-stopped"]);

export class ReportStream {
  readonly plan: PlannedWrites;
  private readonly reporters: { id: string; reporter: Reporter; chain: Promise<void> }[] = [];
  /** Clusters whose run started and has not ended: closed with an error if the job ends without saying. */
  private readonly open = new Set<string>();
  private readonly ended = new Set<string>();

  constructor(
    readonly target: ReportTarget,
    private readonly options: ReportStreamOptions,
  ) {
    this.plan = new PlannedWrites(options.written ?? new WrittenReports(), target.log, options.retry);
    for (const [id, factory] of Object.entries(options.reporters)) {
      try {
        const reporter = factory({ target, plan: this.plan });
        if (reporter) this.reporters.push({ id, reporter, chain: Promise.resolve() });
      } catch (err) {
        target.log.warn({ err, reporter: id }, "reporter not started");
      }
    }
  }

  emit(cluster: string, event: RunEvent): void {
    if (event.type === "run-started") this.open.add(cluster);
    if (terminal.has(event.type)) {
      this.open.delete(cluster);
      this.ended.add(cluster);
    }
    for (const r of this.reporters) {
      r.chain = r.chain
        .then(() => r.reporter.on({ cluster, event }))
        .catch((err: unknown) =>
          this.target.log.warn({ err, reporter: r.id, event: event.type }, "reporter failed on an event"),
        );
    }
  }

  /** The engine's `onEvent` for one cluster. */
  sink(cluster: string): RunEventSink {
    return (event) => this.emit(cluster, event);
  }

  /** Whether the run of `cluster` has ended (finished or stopped). */
  hasEnded(cluster: string): boolean {
    return this.ended.has(cluster);
  }

  /** Clusters whose run started and did not end. */
  unfinished(): string[] {
    return [...this.open];
  }

  /** Waits for every reporter and every planned write, at most `closeTimeoutMs`. Never rejects. */
  async close(): Promise<void> {
    const all = (async () => {
      for (const r of this.reporters) await r.chain;
      for (const r of this.reporters) {
        try {
          await r.reporter.close?.();
        } catch (err) {
          this.target.log.warn({ err, reporter: r.id }, "reporter failed to close");
        }
      }
      await this.plan.idle();
    })();
    const bound = this.options.closeTimeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), bound);
      timer.unref();
    });
    if ((await Promise.race([all.then(() => "done" as const), timeout])) === "timeout") {
      this.target.log.warn(
        { timeoutMs: bound },
        "reports still being written after the run; not waiting longer",
      );
    }
    clearTimeout(timer);
  }
}
