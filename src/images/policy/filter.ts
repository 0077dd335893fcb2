// filterTags: keep the tags the pattern matches and, with `extract`, order them by the expanded template (e.g.
// `$ts` of `^main-[a-f0-9]+-(?P<ts>[0-9]+)`) while remembering which tag each value came from, as Flux does.
import { compileGoRegexp, expandGoTemplate } from "./go-regexp.js";

export interface TagFilterSpec {
  pattern?: string;
  extract?: string;
}

export interface FilteredTags {
  /** The values the policy orders: extracted values, or the tags themselves. */
  values: string[];
  /** The tag a value came from; with equal values, the last tag wins (Flux keeps a map). */
  originalTag(value: string): string;
}

export function filterTags(tags: readonly string[], spec: TagFilterSpec = {}): FilteredTags {
  if (!spec.pattern) return { values: [...tags], originalTag: (value) => value };
  const pattern = compileGoRegexp(spec.pattern, "filterTags.pattern");
  const originals = new Map<string, string>();
  for (const tag of tags) {
    const match = pattern.exec(tag);
    if (!match) continue;
    originals.set(spec.extract ? expandGoTemplate(spec.extract, match) : tag, tag);
  }
  return { values: [...originals.keys()], originalTag: (value) => originals.get(value) ?? value };
}
