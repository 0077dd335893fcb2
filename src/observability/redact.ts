// What a log line may show of a value: credential-named fields and Secret data redacted at any depth (pino's
// own `redact` paths have a fixed depth), strings scrubbed of known secret values and of credential-shaped text
// (API error bodies, helm stderr), errors turned into plain objects with their properties and causes, and the
// whole walk bounded in depth, size and string length so that logging a huge or cyclic object stays cheap.
import { isSecretKeyName, scrubCredentials } from "../util/secret-scrub.js";

export const REDACTED = "[redacted]";

export interface RedactOptions {
  /** Masks known secret values in a string (the webhook secret, the app key); applied after scrubCredentials. */
  scrub?: (text: string) => string;
  maxDepth?: number;
  /** Objects, arrays and values visited in one log line. */
  maxNodes?: number;
  maxStringLength?: number;
  /** Items per array and keys per object. */
  maxItems?: number;
  /**
   * Leave HTTP requests and responses at the top level as they are, for the serializers of pino-http
   * (probot's request log), which pick their fields; pino's path redaction covers their headers.
   */
  keepHttpMessages?: boolean;
}

const defaults = {
  maxDepth: 10,
  maxNodes: 5_000,
  maxStringLength: 32_768,
  maxItems: 200,
  keepHttpMessages: false,
};

export function redactForLog(value: unknown, options: RedactOptions = {}): unknown {
  const opts = { ...defaults, ...options };
  const state = { nodes: 0 };
  const ancestors = new Set<object>();

  const text = (s: string): string => {
    const clipped =
      s.length > opts.maxStringLength
        ? `${s.slice(0, opts.maxStringLength)}…[${s.length - opts.maxStringLength} more characters]`
        : s;
    const scrubbed = scrubCredentials(jsonInString(clipped));
    return opts.scrub ? opts.scrub(scrubbed) : scrubbed;
  };

  // A string holding a JSON document (an API error body): redact its fields too.
  const jsonInString = (s: string): string => {
    const t = s.trimStart();
    if (!(t.startsWith("{") || t.startsWith("[")) || ancestors.size >= opts.maxDepth) return s;
    let parsed: unknown;
    try {
      parsed = JSON.parse(s);
    } catch {
      return s;
    }
    return JSON.stringify(walk(parsed, ancestors.size + 1));
  };

  const walk = (v: unknown, depth: number): unknown => {
    if (++state.nodes > opts.maxNodes) return "[truncated]";
    switch (typeof v) {
      case "string":
        return text(v);
      case "number":
      case "boolean":
      case "undefined":
        return v;
      case "bigint":
        return v.toString();
      case "symbol":
      case "function":
        return undefined;
    }
    if (v === null) return null;
    const obj = v as object;
    if (depth > opts.maxDepth) return "[too deep]";
    if (ancestors.has(obj)) return "[circular]";
    if (depth === 1 && opts.keepHttpMessages && isHttpMessage(obj)) return obj;
    if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? String(obj) : obj.toISOString();
    if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) return `[${obj.byteLength} bytes]`;
    ancestors.add(obj);
    try {
      if (Array.isArray(obj)) return walkArray(obj, depth);
      if (obj instanceof Map)
        return walkEntries(
          [...obj.entries()].map(([k, e]) => [String(k), e]),
          depth,
          obj,
        );
      if (obj instanceof Set) return walkArray([...obj], depth);
      if (obj instanceof Error) return walkError(obj, depth);
      const toJSON = (obj as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === "function") {
        try {
          return walk(toJSON.call(obj), depth);
        } catch {
          return "[unserialisable]";
        }
      }
      return walkEntries(Object.entries(obj), depth, obj);
    } finally {
      ancestors.delete(obj);
    }
  };

  const walkArray = (items: unknown[], depth: number): unknown[] => {
    const out = items.slice(0, opts.maxItems).map((item) => walk(item, depth + 1));
    if (items.length > opts.maxItems) out.push(`[${items.length - opts.maxItems} more items]`);
    return out;
  };

  const walkEntries = (
    entries: [string, unknown][],
    depth: number,
    parent: object,
  ): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [key, item] of entries.slice(0, opts.maxItems)) {
      out[key] = redactedField(key, item, parent) ? REDACTED : walk(item, depth + 1);
    }
    if (entries.length > opts.maxItems) out["[more keys]"] = entries.length - opts.maxItems;
    return out;
  };

  const walkError = (err: Error, depth: number): Record<string, unknown> => {
    const out: Record<string, unknown> = {
      type: err.constructor?.name && err.constructor.name !== "Object" ? err.constructor.name : err.name,
      message: text(String(err.message)),
      ...(err.stack ? { stack: text(err.stack) } : {}),
    };
    Object.assign(out, walkEntries(Object.entries(err), depth, err));
    if (err.cause !== undefined) out.cause = walk(err.cause, depth + 1);
    if (err instanceof AggregateError) out.errors = walkArray(err.errors, depth);
    return out;
  };

  return walk(value, 0);
}

// `data` shows in ConfigMaps and other kinds; in a Secret, or an object that does not say its kind (a Secret
// in a list, a bare request body), it is redacted. `stringData` only Secrets have.
function redactedField(key: string, value: unknown, parent: object): boolean {
  if (value === undefined || value === null) return false;
  if (key === "data") {
    const kind = (parent as { kind?: unknown }).kind;
    return typeof kind !== "string" || kind === "Secret";
  }
  return isSecretKeyName(key);
}

function isHttpMessage(obj: object): boolean {
  const o = obj as { socket?: unknown; headers?: unknown; method?: unknown; setHeader?: unknown };
  return (
    typeof o.setHeader === "function" || (o.socket !== undefined && o.headers !== undefined && "method" in o)
  );
}
