// Setter markers, as Flux's image-automation-controller reads them (update.strategy: Setters): a YAML scalar
// with a line comment `# {"$imagepolicy": "<namespace>:<policy>"}` receives the policy's image with its tag;
// `...:tag` receives only the tag, `...:name` only the image name.
//
// Only the marked scalars change, and only their own bytes: the yaml package's Document API finds the marked
// nodes and their source ranges, and the new value is spliced into the original text. Comments, key order,
// blank lines, quoting style and everything unmarked stay byte for byte as they were.
import { parseAllDocuments, parse as parseYaml, type Scalar, visit } from "yaml";

export type SetterField = "image" | "tag" | "name";

export interface SetterMarker {
  /** `namespace/name` of the ImagePolicy. */
  policy: string;
  field: SetterField;
}

/** What a policy chose: the image name (ImageRepository `spec.image`) and the tag. */
export interface LatestImage {
  image: string;
  tag: string;
}

export interface SetterChange {
  file: string;
  /** 1-based line of the changed value. */
  line: number;
  policy: string;
  field: SetterField;
  from: string;
  to: string;
}

export interface SetterResult {
  text: string;
  changes: SetterChange[];
  /** Markers naming a policy that is not in `latest` (unknown, or without a chosen tag): left untouched. */
  unresolved: { line: number; policy: string }[];
}

/** Reads a setter marker out of a comment's text; undefined for any other comment. */
export function parseSetterMarker(comment: string): SetterMarker | undefined {
  const text = comment.trim();
  if (!text.startsWith("{") || !text.includes("$imagepolicy")) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  const reference = (data as { $imagepolicy?: unknown } | null)?.$imagepolicy;
  if (typeof reference !== "string") return undefined;
  const parts = reference.split(":");
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) return undefined;
  const suffix = parts[2];
  if (suffix !== undefined && suffix !== "tag" && suffix !== "name") return undefined;
  return { policy: `${parts[0]}/${parts[1]}`, field: suffix ?? "image" };
}

/** The value a marked field receives. */
export function setterValue(field: SetterField, latest: LatestImage): string {
  switch (field) {
    case "image":
      return `${latest.image}:${latest.tag}`;
    case "tag":
      return latest.tag;
    case "name":
      return latest.image;
  }
}

export function applySetters(
  text: string,
  file: string,
  latest: ReadonlyMap<string, LatestImage>,
): SetterResult {
  // Cheap pre-check: most files carry no marker, and parsing is the expensive part.
  if (!text.includes("$imagepolicy")) return { text, changes: [], unresolved: [] };
  const edits: { start: number; end: number; replacement: string; change: Omit<SetterChange, "line"> }[] = [];
  const unresolved: { offset: number; policy: string }[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) continue;
    visit(doc, {
      Scalar(_key, node) {
        const marker = node.comment ? parseSetterMarker(node.comment) : undefined;
        // Block scalars (| and >) span lines; an image reference never needs one.
        if (!marker || !node.range || node.type === "BLOCK_LITERAL" || node.type === "BLOCK_FOLDED") return;
        const chosen = latest.get(marker.policy);
        if (!chosen) {
          unresolved.push({ offset: node.range[0], policy: marker.policy });
          return;
        }
        const from = String(node.value);
        const to = setterValue(marker.field, chosen);
        if (from === to) return;
        edits.push({
          start: node.range[0],
          end: node.range[1],
          replacement: renderScalar(node, to),
          change: { file, policy: marker.policy, field: marker.field, from, to },
        });
      },
    });
  }
  const lineOf = lineIndex(text);
  let out = text;
  // Back to front, so earlier offsets stay valid.
  for (const edit of [...edits].sort((a, b) => b.start - a.start)) {
    out = out.slice(0, edit.start) + edit.replacement + out.slice(edit.end);
  }
  return {
    text: out,
    changes: edits.map((edit) => ({ ...edit.change, line: lineOf(edit.start) })),
    unresolved: unresolved.map(({ offset, policy }) => ({ line: lineOf(offset), policy })),
  };
}

/** The new value in the node's own style; a plain scalar that would no longer read as a string is quoted. */
function renderScalar(node: Scalar, value: string): string {
  switch (node.type) {
    case "QUOTE_SINGLE":
      return `'${value.replaceAll("'", "''")}'`;
    case "QUOTE_DOUBLE":
      return JSON.stringify(value);
    default:
      return readsBackAs(value) ? value : JSON.stringify(value);
  }
}

function readsBackAs(value: string): boolean {
  if (value === "" || /[\n#]|^\s|\s$|: /.test(value)) return false;
  try {
    return parseYaml(value) === value;
  } catch {
    return false;
  }
}

function lineIndex(text: string): (offset: number) => number {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (starts[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    return low + 1;
  };
}
