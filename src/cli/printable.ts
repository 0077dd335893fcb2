// Text from a repository, registry or cluster, made safe to print on a terminal: control characters (ESC and
// the rest of C0/C1 except newline and tab) and bidirectional overrides are shown as escapes, so an object, a
// file name or a diff cannot retitle the window, hide lines, move the cursor or reorder what a reviewer reads.
// Applied to every untrusted string before the CLI adds its own colour.

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.codePointAt(0) as number;
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
