// The bot's image scans on the Timers seam: one timer per ImageUpdateAutomation (`images:<repo>:<ns>/<name>`,
// every `spec.interval`), whose firing queues an images job for that automation on the work queue. With Redis
// the timers are shared (src/queue/redis-timers.ts), so each scan fires once cluster-wide and keeps firing
// when the replica that set it is gone; in one process they are in-memory timers. Payloads are plain JSON.
import { clampInterval } from "../flux/duration.js";
import type { TimerHandler, Timers } from "../queue/timers.js";

/** What a scan timer carries: enough to queue the images job of one automation. */
export interface ImageScanTimer {
  installationId: number;
  owner: string;
  repo: string;
  defaultBranch: string;
  /** `<namespace>/<name>` of the ImageUpdateAutomation. */
  automation: string;
}

export interface ScheduledAutomation {
  /** `<namespace>/<name>` */
  key: string;
  intervalMs: number;
}

export interface ImageScheduleOptions {
  /** The process's timers for image scans (in memory, or shared through Redis). */
  timers: (handler: TimerHandler<ImageScanTimer>) => Timers<ImageScanTimer>;
  /** A timer fired: queue that automation's scan. */
  fire: (timer: ImageScanTimer) => Promise<void>;
  /** The shortest interval honoured (operator `security.minInterval`), to compare with the timers set. */
  minIntervalMs: number;
  /** Called after every scan (tests and metrics watch it). */
  onScan?: (automation: string, action: string) => void;
}

export class ImageSchedule {
  private readonly timers: Timers<ImageScanTimer>;
  readonly onScan: ((automation: string, action: string) => void) | undefined;

  constructor(private readonly options: ImageScheduleOptions) {
    this.timers = options.timers((timer) => options.fire(timer));
    this.onScan = options.onScan;
  }

  /**
   * Sets one timer per automation of a repository (its interval), clears the timers of automations that are
   * gone, and keeps the phase of the ones whose interval did not change. Returns the automations that had no
   * timer yet: the caller scans those at once (a new automation does not wait a whole interval).
   */
  async scheduleRepository(
    target: Omit<ImageScanTimer, "automation">,
    automations: readonly ScheduledAutomation[],
  ): Promise<string[]> {
    const prefix = timerPrefix(`${target.owner}/${target.repo}`);
    const existing = new Map(
      (await this.timers.list()).filter((t) => t.id.startsWith(prefix)).map((t) => [t.id, t.everyMs]),
    );
    const wanted = new Set(automations.map((a) => prefix + a.key));
    for (const id of existing.keys()) if (!wanted.has(id)) await this.timers.clear(id);
    const added: string[] = [];
    for (const a of automations) {
      const id = prefix + a.key;
      const everyMs = existing.get(id);
      if (everyMs === undefined) added.push(a.key);
      if (everyMs === clampInterval(a.intervalMs, this.options.minIntervalMs)) continue;
      await this.timers.set({ id, everyMs: a.intervalMs, payload: { ...target, automation: a.key } });
    }
    return added;
  }

  /** The scan timers of one repository (`owner/repo`), or of all: what `/gitops images` and tests list. */
  async list(repository?: string): Promise<Array<{ id: string; everyMs: number }>> {
    const all = await this.timers.list();
    const prefix = repository === undefined ? "images:" : timerPrefix(repository);
    return all.filter((t) => t.id.startsWith(prefix)).map(({ id, everyMs }) => ({ id, everyMs }));
  }

  async close(): Promise<void> {
    await this.timers.close();
  }
}

/** Repository names are case-insensitive on GitHub: one timer per automation whatever the spelling. */
function timerPrefix(repository: string): string {
  return `images:${repository.toLowerCase()}:`;
}
