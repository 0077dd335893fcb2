// What is wrong with a Flux object, in the words of the person who wrote it: zod's issues turned into one
// field and one plain sentence ("spec.prune: is required", "spec.wiat: unknown field (did you mean wait?)").
// A missing required field next to an unknown one that looks like it is reported as the typo it is.
import type { z } from "zod";
import { closestName, didYouMean } from "./did-you-mean.js";
import { quoted } from "./names.js";

type Issue = z.core.$ZodIssue;
type Segment = string | number;

export interface FieldProblem {
  /** Dotted path, e.g. `spec.sourceRef.kind` (list entries by index: `spec.dependsOn.0.name`). */
  field: string;
  reason: string;
}

/** The one problem to report first among `issues` (from parsing `input` with `schema`). */
export function describeProblem(schema: z.ZodType, input: unknown, issues: readonly Issue[]): FieldProblem {
  const unknown = unknownFields(issues);
  // Unknown fields by the object they are in, so a long list of bad entries costs one pass, not a square.
  const unknownIn = new Map<string, string[]>();
  for (const u of unknown) {
    const at = JSON.stringify(u.parent);
    const keys = unknownIn.get(at);
    if (keys) keys.push(u.key);
    else unknownIn.set(at, [u.key]);
  }
  for (const issue of issues) {
    const missing = missingField(issue, input);
    if (missing === undefined) continue;
    const parent = issue.path.slice(0, -1) as Segment[];
    const typo = closestName(missing, unknownIn.get(JSON.stringify(parent)) ?? []);
    if (typo !== undefined) {
      return {
        field: fieldPath(issue.path),
        reason: `is required (found ${fieldPath([...parent, typo])} — did you mean ${missing}?)`,
      };
    }
  }
  const first = unknown[0];
  if (first) {
    return {
      field: fieldPath([...first.parent, first.key]),
      reason: `unknown field${suggestion(first.key, knownKeys(schema, first.parent))}`,
    };
  }
  const issue = issues[0];
  if (!issue) return { field: "", reason: "is not valid" };
  return { field: fieldPath(issue.path), reason: plainReason(issue, valueAt(input, issue.path)) };
}

interface UnknownField {
  parent: Segment[];
  key: string;
}

function unknownFields(issues: readonly Issue[]): UnknownField[] {
  return issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ parent: issue.path as Segment[], key }))
      : [],
  );
}

/** The name of the field an issue says is missing, when it is one. */
function missingField(issue: Issue, input: unknown): string | undefined {
  if (issue.code !== "invalid_type" && issue.code !== "invalid_value") return undefined;
  const key = issue.path[issue.path.length - 1];
  if (typeof key !== "string") return undefined;
  const parent = valueAt(input, issue.path.slice(0, -1));
  if (!isMapping(parent) || Object.hasOwn(parent, key)) return undefined;
  return key;
}

/** ` (did you mean x?)`, or the few fields allowed here, or nothing when there are many and none is close. */
function suggestion(typed: string, known: string[]): string {
  const close = didYouMean(typed, known);
  if (close || known.length === 0) return close;
  return known.length <= 8 ? ` (expected ${alternatives(known)})` : "";
}

function plainReason(issue: Issue, value: unknown): string {
  const found = value === undefined ? "" : ` (found ${shown(value)})`;
  switch (issue.code) {
    case "invalid_type":
      if (value === undefined) return "is required";
      if (!isZodDefault(issue.message)) return `${issue.message}${found}`;
      return `${expectedType(issue.expected)}${found}`;
    case "invalid_value": {
      if (value === undefined) return "is required";
      const options = issue.values.map(String);
      const close = typeof value === "string" ? closestName(value, options) : undefined;
      const hint = close === undefined ? "" : ` — did you mean ${close}?`;
      return `must be ${options.length === 1 ? options[0] : `one of ${alternatives(options)}`} (found ${shown(value)}${hint})`;
    }
    case "too_small":
    case "too_big":
      return isZodDefault(issue.message) ? `${sizeRule(issue)}${found}` : issue.message;
    case "invalid_format":
      return isZodDefault(issue.message)
        ? `${issue.message.replace(/^Invalid \w+: /, "")}${found}`
        : issue.message;
    case "invalid_key":
      return `has a key that is not valid: ${issue.issues[0]?.message ?? "invalid"}`;
    case "custom":
      return issue.message;
    default:
      return isZodDefault(issue.message) ? `is not valid${found}` : issue.message;
  }
}

/** zod's own English ("Invalid input: expected …", "Too small: …"), as opposed to a message we wrote. */
function isZodDefault(message: string): boolean {
  return /^(Invalid|Too (small|big)|Unrecognized)\b/.test(message);
}

function expectedType(expected: string): string {
  switch (expected) {
    case "boolean":
      return "must be true or false";
    case "string":
      return "must be a string";
    case "number":
      return "must be a number";
    case "int":
      return "must be a whole number";
    case "array":
      return "must be a list";
    case "object":
    case "record":
      return "must be a mapping (key: value)";
    default:
      return `must be ${expected}`;
  }
}

function sizeRule(issue: Issue & { code: "too_small" | "too_big" }): string {
  const small = issue.code === "too_small";
  const limit = Number(small ? issue.minimum : issue.maximum);
  const inclusive = issue.inclusive !== false;
  switch (issue.origin) {
    case "string":
      if (small && limit <= 1) return "must not be empty";
      return `must be ${small ? "at least" : "at most"} ${limit} characters long`;
    case "array":
      if (small && limit <= 1) return "must have at least one entry";
      return `must have ${small ? "at least" : "at most"} ${limit} entries`;
    default:
      if (!inclusive) return `must be ${small ? "greater" : "less"} than ${limit}`;
      return `must be ${small ? "at least" : "at most"} ${limit}`;
  }
}

/** `a`, `a or b`, `a, b or c`. */
export function alternatives(options: readonly string[]): string {
  if (options.length <= 1) return options.join("");
  return `${options.slice(0, -1).join(", ")} or ${options[options.length - 1]}`;
}

/** A value from the repository as a message shows it: strings quoted and bounded, structures by their shape. */
export function shown(value: unknown): string {
  if (typeof value === "string") return quoted(value);
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return String(value);
}

/**
 * `spec.sourceRef.kind`. A key is shown as written unless it could disguise the message (control characters)
 * or flood it (over 100 characters): then it is quoted and bounded.
 */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path
    .map((segment) => {
      const text = String(segment);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is quoted
      return text.length > 100 || /[\x00-\x1f\x7f]/.test(text) ? quoted(text) : text;
    })
    .join(".");
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const segment of path) {
    if (Array.isArray(value) && typeof segment === "number") value = value[segment];
    else if (isMapping(value) && typeof segment === "string" && Object.hasOwn(value, segment))
      value = value[segment];
    else return undefined;
  }
  return value;
}

// The few parts of zod's schema definitions needed to find which fields an object at a path may have.
interface SchemaDef {
  type: string;
  shape?: Record<string, SchemaLike>;
  innerType?: SchemaLike;
  in?: SchemaLike;
  element?: SchemaLike;
  valueType?: SchemaLike;
  getter?: () => SchemaLike;
}
interface SchemaLike {
  _zod: { def: SchemaDef };
}

/** The schema with optional/default/nullable/pipe/lazy wrappers taken off. */
function unwrapped(schema: SchemaLike): SchemaLike {
  let current = schema;
  for (let depth = 0; depth < 20; depth++) {
    const def = current._zod.def;
    const inner = def.innerType ?? def.in ?? (def.type === "lazy" ? def.getter?.() : undefined);
    if (!inner) return current;
    current = inner;
  }
  return current;
}

/** The field names the schema allows for the object at `path` (empty when it is not an object schema). */
export function knownKeys(schema: z.ZodType, path: readonly Segment[]): string[] {
  let current = unwrapped(schema as unknown as SchemaLike);
  for (const segment of path) {
    const def = current._zod.def;
    const next =
      def.type === "object" && typeof segment === "string"
        ? def.shape?.[segment]
        : def.type === "array"
          ? def.element
          : def.type === "record"
            ? def.valueType
            : undefined;
    if (!next) return [];
    current = unwrapped(next);
  }
  const def = current._zod.def;
  return def.type === "object" && def.shape ? Object.keys(def.shape) : [];
}
