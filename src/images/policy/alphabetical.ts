// Flux's alphabetical policy: tags compared as byte strings (Go's sort.Strings); `asc` picks the last, `desc`
// the first. Good for sortable timestamps (RFC 3339, `20240102T030405`) and code names.
import type { SortOrder, TagPolicy } from "./types.js";

export function alphabeticalPolicy(order: SortOrder = "asc"): TagPolicy {
  return {
    description: `alphabetical ${order}`,
    latest(tags) {
      let chosen: string | undefined;
      for (const tag of tags) {
        if (
          chosen === undefined ||
          (order === "asc" ? compareBytes(tag, chosen) > 0 : compareBytes(tag, chosen) < 0)
        )
          chosen = tag;
      }
      return chosen;
    },
  };
}

// Go compares strings byte by byte; JavaScript compares UTF-16 code units. The two orders agree on everything
// but supplementary-plane characters, and OCI tags are ASCII (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`).
function compareBytes(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1;
}
