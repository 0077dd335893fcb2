// The lines of a Markdown comment that GitHub shows as the commenter's own plain text: not inside a code block
// (``` or ~~~ fences of any length, indented code), an inline code span, an HTML comment or <pre>/<code>/<samp>/
// <xmp>/<plaintext>-like element, and not quoted (`>`: someone else's words, and the lazy lines that continue a
// quote's paragraph).
//
// This is not a full CommonMark parser, and it need not be: it only has to never call a line plain when GitHub
// hides or quotes it. Where nesting makes a fence's extent uncertain (a fence inside a quote or a list item, a
// fence-like line inside an HTML comment), it stops: no later line counts. Missing a command written after such
// a construct is a small cost; running one somebody pasted as code is not.

export interface PlainLine {
  /** The line without its indentation (at most 3 spaces; more is code). */
  text: string;
  /** 0-based line number in the comment. */
  line: number;
}

const QUOTE_MARKER = /^ {0,3}>/;
const LIST_MARKER = /^ {0,3}(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)/;
const FENCE_LIKE = /^(`{3,}|~{3,})(.*)$/;
// Elements whose content GitHub shows as code or sample output (or not at all). <plaintext> never closes: the
// rest of the comment is inside it.
const HTML_CODE_OPEN = /<(pre|code|samp|xmp|plaintext|script|style|textarea)(?=[\s>/]|$)/i;

interface Fence {
  char: string;
  length: number;
}

export function plainLines(body: string): PlainLine[] {
  const lines = body.split(/\r\n|\r|\n/);
  const plain: PlainLine[] = [];
  let fence: Fence | undefined;
  // Inside an HTML comment or <pre>-like element: the text that ends it.
  let html: string | undefined;
  // Backticks of the inline code span open at the end of the previous line of this paragraph.
  let span = 0;
  let inParagraph = false;
  let quoted = false;
  let listSeen = false;

  for (const [index, raw] of lines.entries()) {
    const { columns, rest } = indentation(raw);
    if (fence) {
      if (columns <= 3 && closesFence(rest, fence)) fence = undefined;
      continue;
    }
    const containerStripped = stripContainers(raw);
    const fenceLike = FENCE_LIKE.exec(containerStripped.content.trimStart());
    if (html !== undefined) {
      // A fence-like line inside what we took for an HTML comment: GitHub may read either; stop.
      if (fenceLike) break;
      const end = raw.toLowerCase().indexOf(html);
      if (end < 0) continue;
      const after = raw.slice(end + html.length);
      ({ span, html } = scanInline(after, 0));
      inParagraph = raw.trim() !== "";
      continue;
    }
    if (rest === "") {
      inParagraph = false;
      span = 0;
      quoted = false;
      continue;
    }
    if (fenceLike) {
      const [, marker = "", info = ""] = fenceLike;
      const topLevel = !containerStripped.hadContainer && columns <= 3;
      // Inside a quote or a list item a fence ends with its container, which this scan does not follow.
      if (containerStripped.hadContainer || (listSeen && columns > 0)) break;
      if (topLevel && !(marker[0] === "`" && info.includes("`"))) {
        fence = { char: marker[0] ?? "`", length: marker.length };
        inParagraph = false;
        span = 0;
        quoted = false;
        continue;
      }
    }
    if (QUOTE_MARKER.test(raw)) quoted = true;
    if (LIST_MARKER.test(containerStripped.afterQuotes)) listSeen = true;
    // An HTML comment or <pre>-like element starting the line begins an HTML block, even inside a paragraph.
    if (columns <= 3 && (rest.startsWith("<!--") || HTML_CODE_OPEN.test(rest.slice(0, 12)))) span = 0;
    const indentedCode = columns >= 4 && !inParagraph;
    const atLineStartInSpan = span > 0;
    if (!quoted && !indentedCode && !atLineStartInSpan && columns <= 3) {
      plain.push({ text: rest, line: index });
    }
    if (!indentedCode) ({ span, html } = scanInline(rest, span));
    inParagraph = !indentedCode;
  }
  return plain;
}

function indentation(line: string): { columns: number; rest: string } {
  let columns = 0;
  let i = 0;
  for (; i < line.length; i++) {
    if (line[i] === " ") columns++;
    else if (line[i] === "\t") columns += 4 - (columns % 4);
    else break;
  }
  return { columns, rest: line.slice(i).trimEnd() };
}

// Quote markers and list markers in front of a line's content.
function stripContainers(line: string): { content: string; afterQuotes: string; hadContainer: boolean } {
  let content = line;
  let hadContainer = false;
  let afterQuotes = line;
  for (;;) {
    const quote = /^ {0,3}> ?/.exec(content);
    if (quote) {
      content = content.slice(quote[0].length);
      afterQuotes = content;
      hadContainer = true;
      continue;
    }
    const list = /^ {0,3}(?:[-+*]|\d{1,9}[.)])(?:[ \t]+|$)/.exec(content);
    if (list) {
      content = content.slice(list[0].length);
      hadContainer = true;
      continue;
    }
    return { content, afterQuotes, hadContainer };
  }
}

function closesFence(rest: string, fence: Fence): boolean {
  const run = /^(`+|~+)[ \t]*$/.exec(rest);
  return run?.[1] !== undefined && run[1][0] === fence.char && run[1].length >= fence.length;
}

// Follows inline code spans and HTML comments / <pre>-like elements through one line's text. `span` is the
// length of the backtick run that opened a code span still open; returns the state at the end of the line.
function scanInline(text: string, openSpan: number): { span: number; html: string | undefined } {
  let span = openSpan;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "`") {
      let j = i;
      while (text[j] === "`") j++;
      const run = j - i;
      if (span === 0) span = run;
      else if (run === span) span = 0;
      i = j;
      continue;
    }
    if (span > 0) {
      i++;
      continue;
    }
    if (ch === "\\") {
      i += 2;
      continue;
    }
    if (text.startsWith("<!--", i)) {
      const end = text.indexOf("-->", i + 4);
      // <!--> and <!---> are complete (empty) comments too.
      if (text.startsWith("<!-->", i) || text.startsWith("<!--->", i)) {
        i += text.startsWith("<!-->", i) ? 5 : 6;
        continue;
      }
      if (end < 0) return { span: 0, html: "-->" };
      i = end + 3;
      continue;
    }
    const tag = HTML_CODE_OPEN.exec(text.slice(i, i + 12));
    if (ch === "<" && tag?.index === 0) {
      const close = `</${tag[1]?.toLowerCase()}`;
      const end = text.toLowerCase().indexOf(close, i + 1);
      if (end < 0) return { span: 0, html: close };
      i = end + close.length;
      continue;
    }
    i++;
  }
  return { span, html: undefined };
}
