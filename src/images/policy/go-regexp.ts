// Flux compiles filterTags.pattern and exclusionList entries with Go's regexp (RE2). re2js is RE2 in
// JavaScript: the same syntax (`(?P<name>…)`, inline flags like `(?i)`, no backreferences or lookaround) and,
// above all, matching in time linear in the tag's length, so a pattern from a repository (`^(a+)+$`) cannot
// stall the bot the way a backtracking engine would.
import { RE2JS } from "re2js";
import { PolicyError } from "./types.js";

/** A compiled Go regular expression: the two calls tag filtering needs. */
export interface GoRegexp {
  /** Whether the pattern matches anywhere in the input (Go's MatchString). */
  test(input: string): boolean;
  /** The leftmost match with its groups (numbered and named), or null. */
  exec(input: string): RegExpExecArray | null;
}

/** The longest pattern accepted; RE2 bounds its own program size, this keeps messages and parsing small. */
export const maxPatternLength = 4096;

export function compileGoRegexp(pattern: string, what: string): GoRegexp {
  if (pattern.length > maxPatternLength) {
    throw new PolicyError(`${what} is longer than ${maxPatternLength} characters`);
  }
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern);
  } catch (error) {
    // re2js reports like Go: `error parsing regexp: missing closing ): \`a(\``.
    throw new PolicyError(
      `${what} "${pattern}" is not a valid regular expression: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return {
    test: (input) => compiled.test(input),
    exec: (input) => compiled.exec(input) as RegExpExecArray | null,
  };
}

/**
 * Go's Regexp.ExpandString: `$1`, `${1}`, `$name`, `${name}` and `$$`. As in Go, `$name` takes the longest run
 * of letters, digits and underscores (`$1x` means the group named `1x`, usually empty), and an unknown group
 * expands to nothing.
 */
export function expandGoTemplate(template: string, match: RegExpExecArray): string {
  let out = "";
  for (let i = 0; i < template.length; i++) {
    const char = template[i]!;
    if (char !== "$") {
      out += char;
      continue;
    }
    const rest = template.slice(i + 1);
    if (rest.startsWith("$")) {
      out += "$";
      i++;
      continue;
    }
    const braced = /^\{([A-Za-z0-9_]+)\}/.exec(rest);
    const bare = /^[A-Za-z0-9_]+/.exec(rest);
    const name = braced ? braced[1]! : bare?.[0];
    if (name === undefined) {
      // Go copies a malformed `$` reference through as is.
      out += char;
      continue;
    }
    out += groupValue(match, name);
    i += braced ? braced[0].length : name.length;
  }
  return out;
}

function groupValue(match: RegExpExecArray, name: string): string {
  if (/^\d+$/.test(name)) return match[Number(name)] ?? "";
  return match.groups?.[name] ?? "";
}
