// One pino logger for the process: JSON lines with bound context, and never a secret. Three layers:
// - every logged object and every child's bindings go through redactForLog: credential-named fields and Secret
//   data redacted at any depth, errors (with their API response bodies and causes) made plain and scrubbed,
//   the walk bounded;
// - every finished line is scrubbed of the process's own secrets (webhook secret, app private key, anything
//   given in `secrets`) in all their encodings, and of credential-shaped text (tokens, keys, JWTs), the message
//   included;
// - pino's path redaction is kept for the well-known top-level paths, as it was.
import { type DestinationStream, type Logger, pino } from "pino";
import { scrubCredentialShapes, scrubCredentials, secretScrubber } from "../util/secret-scrub.js";
import { REDACTED, redactForLog } from "./redact.js";

export const redactedPaths = [
  "privateKey",
  "token",
  "password",
  "req.headers.authorization",
  "req.headers.cookie",
  "stringData",
];

export interface LoggerOptions {
  level?: string;
  destination?: DestinationStream;
  /** Values never to appear in a log line, in any encoding (the webhook secret, the app's private key). */
  secrets?: Iterable<string>;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const scrubKnown = secretScrubber(opts.secrets ?? []);
  const scrubText = (text: string) => scrubKnown(scrubCredentials(text));
  const redact = (value: Record<string, unknown>) =>
    redactForLog(value, { scrub: scrubKnown, keepHttpMessages: true }) as Record<string, unknown>;
  return pino(
    {
      name: "gitops-bot",
      level: opts.level ?? "info",
      redact: { paths: redactedPaths, censor: REDACTED },
      formatters: { log: redact, bindings: redact },
      // redactForLog has already made errors plain (with their properties and causes); pino's error serializer
      // would fold the causes into the message and call every error an "Object".
      serializers: { err: (err: unknown) => err },
      hooks: {
        logMethod(args, method) {
          method.apply(this, scrubbedArguments(args, scrubText));
        },
        streamWrite: (line) => scrubLine(line, scrubKnown),
      },
    },
    opts.destination ?? process.stdout,
  );
}

// The message and its format arguments. pino takes the message of an error logged without one from the error
// itself (`log.error(err)`, `log.error({ err })`): give it the scrubbed message instead.
function scrubbedArguments(args: unknown[], scrubText: (text: string) => string): Parameters<Logger["info"]> {
  const out = args.map((a) => (typeof a === "string" ? scrubText(a) : a));
  const [first] = args;
  if (args.length === 1 && first !== null && typeof first === "object") {
    const err = first instanceof Error ? first : (first as { err?: unknown }).err;
    if (err instanceof Error && !("msg" in first)) out.push(scrubText(err.message));
  }
  // pino's overloads cannot be named from an array; these are the arguments it was called with.
  return out as Parameters<Logger["info"]>;
}

// The finished JSON line, message included. A mask that lands inside an escape sequence would break the JSON;
// then the line is parsed and each string scrubbed on its own.
function scrubLine(line: string, scrubKnown: (text: string) => string): string {
  const scrubbed = scrubKnown(scrubCredentialShapes(line));
  if (scrubbed === line) return line;
  try {
    JSON.parse(scrubbed);
    return scrubbed;
  } catch {
    try {
      const parsed = JSON.parse(line) as unknown;
      return `${JSON.stringify(redactForLog(parsed, { scrub: scrubKnown }))}\n`;
    } catch {
      return `${JSON.stringify({ msg: "[log line withheld: it held a secret and was not valid JSON]" })}\n`;
    }
  }
}
