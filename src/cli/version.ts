// The version of the installed package, read from its package.json (two levels up from src/cli and dist/cli).
import { readFileSync } from "node:fs";

export function cliVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return manifest.version ?? "unknown";
  } catch {
    return "unknown";
  }
}
