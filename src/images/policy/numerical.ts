// Flux's numerical policy: tags read as floating-point numbers (Go's strconv.ParseFloat, decimal forms);
// `asc` picks the largest, `desc` the smallest. Flux fails the whole policy on a non-numeric tag; we skip such
// tags instead (docs/image-automation.md lists this difference), so a stray `latest` does not stop updates.
import type { SortOrder, TagPolicy } from "./types.js";

const decimal = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

export function parseNumericTag(tag: string): number | undefined {
  if (!decimal.test(tag)) return undefined;
  const value = Number(tag);
  return Number.isFinite(value) ? value : undefined;
}

export function numericalPolicy(order: SortOrder = "asc"): TagPolicy {
  return {
    description: `numerical ${order}`,
    latest(tags) {
      let chosen: string | undefined;
      let chosenValue = 0;
      for (const tag of tags) {
        const value = parseNumericTag(tag);
        if (value === undefined) continue;
        // Like Flux, a later tag of equal value replaces an earlier one.
        if (chosen === undefined || (order === "asc" ? value >= chosenValue : value <= chosenValue)) {
          chosen = tag;
          chosenValue = value;
        }
      }
      return chosen;
    },
  };
}
