// The globs of ArtifactGenerator copy operations: `*` and `?` within one path segment, `**` across segments.
// Patterns come from the repository: they are escaped into a regular expression, never evaluated, matched by
// RE2 (re2js: linear time, so `*a*a*a…b` against a long name cannot backtrack for hours), and runs of `**` are
// folded and capped.
import { RE2JS } from "re2js";

/** A compiled glob: matches a whole relative path. */
export interface Glob {
  test(path: string): boolean;
}
export const MAX_DOUBLE_STARS = 8;

const globChars = /[*?]/;

/** The segments before the first one with a glob character: the directory the pattern starts from. */
export function globBase(pattern: string): { base: string; rest: string } {
  const segments = pattern.split("/");
  const index = segments.findIndex((s) => globChars.test(s));
  if (index === -1) return { base: pattern, rest: "" };
  return { base: segments.slice(0, index).join("/"), rest: segments.slice(index).join("/") };
}

export function hasGlob(pattern: string): boolean {
  return globChars.test(pattern);
}

/** `pattern` as an anchored regular expression on `/`-separated relative paths. */
export function globRegExp(pattern: string): Glob {
  const segments = pattern.split("/").filter((s, i, all) => !(s === "**" && all[i - 1] === "**"));
  if (segments.filter((s) => s === "**").length > MAX_DOUBLE_STARS)
    throw new Error(`glob ${JSON.stringify(pattern)} has more than ${MAX_DOUBLE_STARS} "**" segments`);
  let out = "";
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    if (segment === "**") {
      out += last ? ".*" : "(?:[^/]+/)*";
      continue;
    }
    out += segment
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replaceAll("*", "[^/]*")
      .replaceAll("?", "[^/]");
    if (!last) out += "/";
  }
  return RE2JS.compile(`^${out}$`);
}

/** Flux's exclude rule: a pattern without `/` matches the file name at any depth, else the relative path. */
export function excluded(rel: string, patterns: Glob[], byName: Glob[]): boolean {
  const name = rel.slice(rel.lastIndexOf("/") + 1);
  return patterns.some((p) => p.test(rel)) || byName.some((p) => p.test(name));
}
