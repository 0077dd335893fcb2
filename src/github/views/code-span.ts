// A name from a push or a repository (a branch may hold backticks, `[`, `!`) shown as inline code in Markdown that
// GitHub renders: fenced with more backticks than any run inside it (CommonMark), so nothing in it can close the
// span and start a link or an image; line breaks become spaces, so it cannot start a block either.

export function codeSpan(text: string): string {
  const flat = text.replace(/[\r\n]+/g, " ");
  const longest = Math.max(0, ...[...flat.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  // A space inside the fence when the text starts or ends with a backtick (or is only spaces): CommonMark strips
  // one on each side.
  const pad = /^`|`$|^ +$/.test(flat) || (flat.startsWith(" ") && flat.endsWith(" ")) ? " " : "";
  return `${fence}${pad}${flat}${pad}${fence}`;
}
