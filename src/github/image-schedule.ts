// The bot's image scans: one scheduler for the process, its tasks grouped by repository so that re-reading
// one repository's automations replaces only that repository's tasks.
import type { Logger } from "pino";
import { ImageScanScheduler, type ScheduledScan } from "../images/scheduler.js";

export class ImageSchedule {
  private readonly scheduler: ImageScanScheduler;
  private readonly byRepository = new Map<string, ScheduledScan[]>();

  constructor(
    log: Pick<Logger, "warn">,
    /** Called after every scan (tests and metrics watch it). */
    readonly onScan?: (automation: string, action: string) => void,
    /** The shortest interval honoured (operator `security.minInterval`); default the scheduler's 30 s. */
    options: { minIntervalMs?: number } = {},
  ) {
    this.scheduler = new ImageScanScheduler(
      log,
      options.minIntervalMs === undefined ? {} : { minIntervalMs: options.minIntervalMs },
    );
  }

  /** Replaces a repository's scans; new ones run at once, removed ones stop. */
  scheduleRepository(repository: string, tasks: ScheduledScan[]): void {
    if (tasks.length === 0) this.byRepository.delete(repository);
    else this.byRepository.set(repository, tasks);
    this.scheduler.schedule([...this.byRepository.values()].flat());
  }

  /** Runs a repository's scans now (on demand), waiting for them. */
  async runNow(repository: string): Promise<void> {
    await Promise.all((this.byRepository.get(repository) ?? []).map((t) => this.scheduler.runNow(t.key)));
  }

  stop(): void {
    this.scheduler.stop();
  }
}
