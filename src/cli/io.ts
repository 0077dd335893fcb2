// Where a CLI command writes: process.stdout/stderr, or strings in tests.
export interface CliIO {
  out: { write(text: string): unknown };
  err: { write(text: string): unknown };
}
