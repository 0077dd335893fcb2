// Go duration strings, as Flux objects write them: "30s", "5m", "1h30m", "1.5h", "250ms".
import { z } from "zod";
import { quoted } from "./names.js";

const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  if (text === "0") return 0;
  let total = 0;
  let consumed = 0;
  for (let match = re.exec(text); match; match = re.exec(text)) {
    total += Number(match[1]) * (unitMs[match[2] ?? ""] ?? 0);
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== text.length)
    throw new Error(`"${text}" is not a duration like 30s, 5m or 1h30m`);
  return total;
}

export function isDuration(text: string): boolean {
  try {
    parseDuration(text);
    return true;
  } catch {
    return false;
  }
}

const durationRule = "must be a duration like 30s, 5m or 1h30m";

/** The schema of a duration field in any Flux object; a number (`interval: 10`) gets the same message. */
export const durationSchema = z.string({ error: durationRule }).superRefine((value, ctx) => {
  if (!isDuration(value))
    ctx.addIssue({ code: "custom", message: `${durationRule} (found ${quoted(value)})` });
});

/** The longest delay Node's timers take (2^31-1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * An interval from repository content, made safe to schedule: never below `floorMs` (an `interval: 0s` would
 * loop) and never past what a Node timer can hold (a longer one would fire immediately, i.e. loop too).
 */
export function clampInterval(ms: number, floorMs: number): number {
  if (!Number.isFinite(ms) || ms < floorMs) return floorMs;
  return Math.min(ms, MAX_TIMER_MS);
}
