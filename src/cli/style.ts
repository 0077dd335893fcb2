// Colour for people at a terminal, none for pipes, files and CI logs: on when the stream is a TTY, unless
// NO_COLOR is set (https://no-color.org) or TERM is "dumb"; FORCE_COLOR turns it on anyway.
import type { CliIO } from "./io.js";

export interface Style {
  ok(text: string): string;
  failed(text: string): string;
  changed(text: string): string;
  muted(text: string): string;
  bold(text: string): string;
}

const paint =
  (open: number, close: number) =>
  (text: string): string =>
    `\u001b[${open}m${text}\u001b[${close}m`;

const plain: Style = { ok: (t) => t, failed: (t) => t, changed: (t) => t, muted: (t) => t, bold: (t) => t };

const coloured: Style = {
  ok: paint(32, 39),
  failed: paint(31, 39),
  changed: paint(33, 39),
  muted: paint(2, 22),
  bold: paint(1, 22),
};

export function colourWanted(
  stream: { isTTY?: boolean },
  env: Record<string, string | undefined> = process.env,
): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return Boolean(stream.isTTY) && env.TERM !== "dumb";
}

export function styleFor(stream: { isTTY?: boolean }, io: CliIO): Style {
  return colourWanted(stream, io.env ?? process.env) ? coloured : plain;
}

export const noStyle = plain;
