// Configuration mistakes as values that name the file, line and field, so a failing check tells the user
// exactly what to fix without reading the bot's log.
import { type Document, isNode, LineCounter, parseDocument } from "yaml";
import type { ZodError, ZodType } from "zod";

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly file: string,
    readonly problems: { line?: number; field?: string; message: string }[],
  ) {
    super(
      `${file}: ${problems
        .map((p) => `${p.line ? `line ${p.line}: ` : ""}${p.field ? `${p.field}: ` : ""}${p.message}`)
        .join("; ")}`,
    );
  }
}

/** Parses YAML text and validates it with `schema`; every problem carries its line and dotted field path. */
export function parseConfigYaml<T>(file: string, text: string, schema: ZodType<T>): T {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        line: e.linePos?.[0]?.line ?? lineCounter.linePos(e.pos[0]).line,
        message: e.message.split("\n")[0] ?? e.message,
      })),
    );
  }
  const parsed = schema.safeParse(doc.toJS({ maxAliasCount: 100 }) ?? {});
  if (!parsed.success) throw new ConfigError(file, zodProblems(parsed.error, doc, lineCounter));
  return parsed.data;
}

function zodProblems(error: ZodError, doc: Document, lines: LineCounter) {
  return error.issues.map((issue) => {
    const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
    return {
      line: lineOf(doc, lines, path),
      field: formatPath(path),
      message: issue.message,
    };
  });
}

/** The line of the deepest node that exists along `path` (a missing field points at its parent). */
function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

export function formatPath(path: (string | number)[]): string | undefined {
  if (path.length === 0) return undefined;
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}
