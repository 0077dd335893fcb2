// The command line as the flux CLI (cobra/pflag) reads it, shared by every command: `--flag value`,
// `--flag=value`, `-x value`, booleans as `--flag`, `--flag=true|false` or `--no-flag`, `--` ends the flags.
// Mistakes are UsageErrors with one line saying which flag and why; the command adds "see --help".
import { UsageError } from "./io.js";

export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
  /** A string flag given more than once collects every value (default: the last one wins). */
  multiple?: boolean;
}

export type FlagSpecs = Record<string, FlagSpec>;

type ValueOf<S extends FlagSpec> = S["type"] extends "boolean"
  ? boolean
  : S["multiple"] extends true
    ? string[]
    : string;

export type FlagValues<S extends FlagSpecs> = { -readonly [K in keyof S]?: ValueOf<S[K]> };

export interface CommandLine<S extends FlagSpecs> {
  values: FlagValues<S>;
  positionals: string[];
}

/** Every command understands these. */
export const helpFlag = { help: { type: "boolean", short: "h" } } as const satisfies FlagSpecs;

const BOOLEAN_WORDS: Record<string, boolean> = { true: true, false: false, "1": true, "0": false };

export function parseCommandLine<S extends FlagSpecs>(args: string[], specs: S): CommandLine<S> {
  const values: Record<string, boolean | string | string[]> = {};
  const positionals: string[] = [];
  const byShort = new Map(
    Object.entries(specs).flatMap(([name, spec]) => (spec.short ? [[spec.short, name] as const] : [])),
  );
  const set = (name: string, value: string | boolean) => {
    const spec = specs[name] as FlagSpec;
    if (spec.multiple && typeof value === "string") {
      values[name] = [...((values[name] as string[] | undefined) ?? []), value];
    } else {
      values[name] = value;
    }
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.length < 2 || !arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const body = long ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf("=");
    const key = eq === -1 ? body : body.slice(0, eq);
    const inline = eq === -1 ? undefined : body.slice(eq + 1);
    let name = long ? key : byShort.get(key);
    let negated = false;
    if (long && name && !specs[name] && name.startsWith("no-") && specs[name.slice(3)]?.type === "boolean") {
      name = name.slice(3);
      negated = true;
    }
    const shown = long ? `--${key}` : `-${key}`;
    const spec = name ? specs[name] : undefined;
    if (!name || !spec) throw new UsageError(unknownFlag(shown, specs));
    if (spec.type === "boolean") {
      if (inline === undefined) {
        set(name, !negated);
        continue;
      }
      if (negated) throw new UsageError(`${shown} takes no value; write --${name}=false`);
      const value = BOOLEAN_WORDS[inline.toLowerCase()];
      if (value === undefined) {
        throw new UsageError(`${shown} is true or false, not "${inline}" (as in ${shown}=false)`);
      }
      set(name, value);
      continue;
    }
    if (inline !== undefined) {
      set(name, inline);
      continue;
    }
    const next = args[i + 1];
    if (next === undefined || (next.startsWith("--") && next.length > 2)) {
      throw new UsageError(`${shown} needs a value`);
    }
    set(name, next);
    i++;
  }
  return { values: values as FlagValues<S>, positionals };
}

function unknownFlag(shown: string, specs: FlagSpecs): string {
  const known = Object.keys(specs);
  const asked = shown.replace(/^-+/, "");
  const close = known
    .map((k) => ({ k, d: editDistance(asked, k) }))
    .filter(({ d }) => d <= Math.max(1, Math.floor(asked.length / 4)))
    .sort((a, b) => a.d - b.d)[0];
  return `unknown flag ${shown}${close ? ` (did you mean --${close.k}?)` : ""}`;
}

/** Levenshtein distance, for did-you-mean on short words. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(
        Math.min((previous[j] as number) + 1, (row[j - 1] as number) + 1, (previous[j - 1] as number) + cost),
      );
    }
    previous = row;
  }
  return previous[b.length] as number;
}
