// Flux compiles filterTags.pattern and exclusionList entries with Go's regexp (RE2). The syntax both engines
// share covers what people write for tags; the differences that do show up are translated here: named groups
// `(?P<name>…)`, and leading flag groups like `(?i)`, which JavaScript has no inline form for.
import { PolicyError } from "./types.js";

export function compileGoRegexp(pattern: string, what: string): RegExp {
  let source = pattern.replaceAll("(?P<", "(?<");
  let flags = "";
  const leadingFlags = /^\(\?([imsU]+)\)/.exec(source);
  if (leadingFlags) {
    const goFlags = leadingFlags[1]!;
    if (goFlags.includes("U")) throw new PolicyError(`${what} "${pattern}": the (?U) flag is not supported`);
    flags = [...new Set(goFlags)].join("");
    source = source.slice(leadingFlags[0].length);
  }
  try {
    // `u` for Go's rune (not UTF-16 unit) semantics and stricter escapes, like RE2.
    return new RegExp(source, `${flags}u`);
  } catch (error) {
    throw new PolicyError(
      `${what} "${pattern}" is not a valid regular expression: ${(error as Error).message}`,
    );
  }
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
