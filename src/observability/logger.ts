// One pino logger for the process: JSON lines with bound context, and secret-bearing fields redacted so a
// token or key can never reach a log line even when a whole object is logged.
import { type DestinationStream, type Logger, pino } from "pino";

export const redactedPaths = [
  "privateKey",
  "token",
  "password",
  "*.token",
  "*.password",
  "*.privateKey",
  "headers.authorization",
  "req.headers.authorization",
  "req.headers.cookie",
  "data",
  "*.data",
  "stringData",
  "*.stringData",
];

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      name: "gitops-bot",
      level: opts.level ?? "info",
      redact: { paths: redactedPaths, censor: "[redacted]" },
    },
    opts.destination ?? process.stdout,
  );
}
