// Where a CLI command writes: process.stdout/stderr, or strings in tests.
export interface CliIO {
  out: { write(text: string): unknown };
  err: { write(text: string): unknown };
}

/** A mistake in the command line: the command prints its usage after the message and exits 2. */
export class UsageError extends Error {}
