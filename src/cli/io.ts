// Where a CLI command writes: process.stdout/stderr, or strings in tests.
export interface CliIO {
  out: { write(text: string): unknown; isTTY?: boolean };
  err: { write(text: string): unknown; isTTY?: boolean };
  /** The environment colour and progress decisions read (NO_COLOR, TERM); default: process.env. */
  env?: Record<string, string | undefined>;
  /** How often a health wait's status line is printed (default: 1 s on a terminal, 15 s otherwise). */
  progressIntervalMs?: number;
}

/** A mistake in the command line: the command prints it on one line, then where to read the usage; exit 2. */
export class UsageError extends Error {}
