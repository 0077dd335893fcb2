// Progress on stderr while a run works: a line per step, and while health checks wait, a status line —
// `waiting 40s/5m: Deployment/apps/web 0/1 available` — redrawn in place every second on a terminal, printed
// every `tickMs` otherwise (CI logs), so a five-minute wait is never five silent minutes.
import type { UnhealthyObject, WaitProgress } from "../cluster/ssa/wait.js";
import type { ProgressEvent } from "../reconcile/run.js";
import { printable } from "./printable.js";
import type { Style } from "./style.js";

/** A health poll of one Kustomization's wait (reconcile forwards wait.ts's onPoll as this event). */
export interface HealthProgressEvent {
  type: "health";
  kustomization: string;
  progress: WaitProgress;
}

export type CliProgressEvent = ProgressEvent | HealthProgressEvent;

export interface ProgressOptions {
  /** stderr is a terminal: redraw one status line in place. */
  tty: boolean;
  style: Style;
  /** How often the status line is printed when not on a terminal. */
  tickMs: number;
  now?: () => number;
}

export const defaultTickMs = { tty: 1_000, log: 15_000 };

interface Waiting {
  since: number;
  objects: number;
  poll?: WaitProgress;
}

export class ProgressReporter {
  private readonly waiting = new Map<string, Waiting>();
  private timer: NodeJS.Timeout | undefined;
  private statusShown = false;
  private readonly now: () => number;

  constructor(
    private readonly write: (text: string) => void,
    private readonly options: ProgressOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  handle(event: CliProgressEvent): void {
    if (event.type === "health") {
      const wait = this.waiting.get(event.kustomization);
      if (wait) wait.poll = event.progress;
      return;
    }
    if (event.type === "waiting") {
      this.waiting.set(event.kustomization, { since: this.now(), objects: event.objects });
      this.startTicking();
    }
    if (event.type === "finished") this.waiting.delete(event.kustomization);
    this.line(stepLine(event, this.options.style));
    if (this.waiting.size === 0) this.stopTicking();
  }

  /** The status lines now (exposed for tests and the ticker). */
  statusLines(): string[] {
    return [...this.waiting.entries()].map(([key, wait]) => waitingLine(key, wait, this.now()));
  }

  tick(): void {
    const lines = this.statusLines();
    if (lines.length === 0) return;
    if (this.options.tty) {
      const more = lines.length > 1 ? ` (+${lines.length - 1} more waiting)` : "";
      this.write(`\r\u001b[K${this.options.style.muted(printable(`${lines[0]}${more}`))}`);
      this.statusShown = true;
    } else {
      for (const line of lines) this.write(`${printable(line)}\n`);
    }
  }

  close(): void {
    this.stopTicking();
    this.clearStatus();
  }

  private line(text: string): void {
    this.clearStatus();
    this.write(text);
  }

  private clearStatus(): void {
    if (this.statusShown) this.write("\r\u001b[K");
    this.statusShown = false;
  }

  private startTicking(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.options.tickMs);
    this.timer.unref();
  }

  private stopTicking(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function stepLine(e: ProgressEvent, style: Style): string {
  const key = printable("kustomization" in e ? e.kustomization : "");
  switch (e.type) {
    case "planned":
      return `◎ ${e.kustomizations} Kustomization(s) planned\n`;
    case "started":
      return `◎ ${key}: reconciling\n`;
    case "applied":
      return `◎ ${key}: ${printable(e.summary)}\n`;
    case "waiting":
      return `◎ ${key}: waiting for ${e.objects} object(s) to become healthy\n`;
    case "finished":
      return e.status === "Ready"
        ? `${style.ok("✔")} ${key}: ${e.status}\n`
        : `${style.failed("✗")} ${key}: ${e.status}\n`;
    case "health":
      return ""; // drawn by the status line, not as a step
  }
}

/** `waiting 40s/5m: Deployment/apps/web 0/1 available (+2 more)`; before the first poll, the Kustomization. */
export function waitingLine(key: string, wait: Waiting, now: number): string {
  const elapsed = shortDuration(now - wait.since);
  const poll = wait.poll;
  if (!poll) return `waiting ${elapsed}: Kustomization ${key}, ${wait.objects} object(s)`;
  const [first, ...rest] = poll.unhealthy;
  const detail = first ? objectState(first) : `${poll.total} object(s)`;
  return `waiting ${elapsed}/${shortDuration(poll.timeoutMs)}: ${detail}${rest.length ? ` (+${rest.length} more)` : ""}`;
}

function objectState(u: UnhealthyObject): string {
  const available = /^Available: (\d+)\/(\d+)$/.exec(u.message);
  return `${u.subject} ${available ? `${available[1]}/${available[2]} available` : u.message}`;
}

/** 40s, 1m20s, 5m, 1h2m: as flux prints durations, without the zero parts. */
export function shortDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return [h ? `${h}h` : "", m ? `${m}m` : "", s || total === 0 ? `${s}s` : ""].join("");
}
