// The CLI in-process, as the tests run it: its exit code and what it wrote to stdout and stderr.
import { main } from "../../src/cli/main.js";

export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, {
    out: { write: (s: string) => (out += s) },
    err: { write: (s: string) => (err += s) },
  });
  return { code, out, err };
}
