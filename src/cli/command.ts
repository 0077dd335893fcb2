// The frame every command runs in: parse its flags, answer --help, and turn what it throws into one message on
// stderr with exit status 2 — a usage mistake as one line plus where to read the help, like the flux CLI.
import { type CommandLine, type FlagSpecs, helpFlag, parseCommandLine } from "./args.js";
import { type CliIO, UsageError } from "./io.js";
import { printable } from "./printable.js";

export interface CommandFrame<S extends FlagSpecs> {
  /** As the user typed it: `gitops-bot create`. */
  name: string;
  usage: string;
  flags: S;
  /** Print the usage (exit 2) when there are no arguments at all. */
  usageWhenEmpty?: boolean;
}

export function usageLine(name: string, message: string): string {
  return `${name}: ${message}\nSee '${name} --help'.\n`;
}

export async function runCommand<S extends FlagSpecs>(
  io: CliIO,
  args: string[],
  frame: CommandFrame<S>,
  body: (line: CommandLine<S & typeof helpFlag>) => Promise<number> | number,
): Promise<number> {
  if (frame.usageWhenEmpty && args.length === 0) {
    io.err.write(frame.usage);
    return 2;
  }
  try {
    const line = parseCommandLine(args, { ...frame.flags, ...helpFlag });
    if (line.values.help) {
      io.out.write(frame.usage);
      return 0;
    }
    return await body(line);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err.write(usageLine(frame.name, printable(err.message)));
    } else {
      io.err.write(`${frame.name}: ${printable(err instanceof Error ? err.message : String(err))}\n`);
    }
    return 2;
  }
}
