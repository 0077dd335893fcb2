// A streaming reader for tar archives (POSIX ustar, GNU long names, pax headers), so that the engine sees every
// member's name, type and link target before anything is written, instead of trusting a tar binary with a
// hostile archive. It only parses; what to do with each member is the caller's (see tar-extract.ts).

export type TarEntryType = "file" | "directory" | "symlink" | "hardlink" | "other";

export interface TarEntry {
  /** The member's name as written in the archive (not yet checked). */
  path: string;
  type: TarEntryType;
  /** Bytes of content that follow (files only; 0 for links and directories). */
  size: number;
  mode: number;
  /** Symlink or hard link target as written in the archive. */
  linkTarget: string;
}

export interface TarVisitor {
  /** A member starts; its content (for files) arrives through `data`, then `endEntry`. */
  entry(entry: TarEntry): void;
  data(chunk: Buffer): void;
  endEntry(): void;
}

export class TarFormatError extends Error {
  override name = "TarFormatError";
}

const BLOCK = 512;
/** GNU long names and pax headers are metadata; real ones are a few hundred bytes. */
const MAX_META_BYTES = 1024 * 1024;

type State =
  | { kind: "header" }
  | { kind: "data"; remaining: number; padding: number }
  | { kind: "meta"; type: "L" | "K" | "x" | "g"; remaining: number; padding: number; parts: Buffer[] }
  | { kind: "padding"; remaining: number }
  | { kind: "ended" };

/** Parses a tar stream pushed in chunks of any size. Throws TarFormatError on anything malformed. */
export class TarReader {
  private state: State = { kind: "header" };
  private pending: Buffer = Buffer.alloc(0);
  private longName?: string;
  private longLink?: string;
  private pax: Record<string, string> = {};

  constructor(private readonly visitor: TarVisitor) {}

  push(chunk: Buffer): void {
    let input = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (input.length > 0) {
      const state = this.state;
      if (state.kind === "ended") return;
      if (state.kind === "header") {
        if (input.length < BLOCK) {
          this.pending = Buffer.from(input);
          return;
        }
        this.header(input.subarray(0, BLOCK));
        input = input.subarray(BLOCK);
      } else if (state.kind === "data") {
        const take = Math.min(state.remaining, input.length);
        if (take > 0) this.visitor.data(input.subarray(0, take));
        state.remaining -= take;
        input = input.subarray(take);
        if (state.remaining === 0) {
          this.visitor.endEntry();
          this.state = { kind: "padding", remaining: state.padding };
        }
      } else if (state.kind === "meta") {
        const take = Math.min(state.remaining, input.length);
        state.parts.push(Buffer.from(input.subarray(0, take)));
        state.remaining -= take;
        input = input.subarray(take);
        if (state.remaining === 0) {
          this.meta(state.type, Buffer.concat(state.parts));
          this.state = { kind: "padding", remaining: state.padding };
        }
      } else {
        const take = Math.min(state.remaining, input.length);
        state.remaining -= take;
        input = input.subarray(take);
      }
      if (this.state.kind === "padding" && this.state.remaining === 0) this.state = { kind: "header" };
    }
  }

  /** The input ended: it must end between members (the end-of-archive blocks are optional, as in GNU tar). */
  end(): void {
    const state = this.state;
    if (state.kind === "ended") return;
    if (state.kind === "header" && this.pending.length === 0) return;
    if (state.kind === "padding") return;
    throw new TarFormatError("the archive is truncated");
  }

  private header(block: Buffer): void {
    if (block.every((b) => b === 0)) {
      // The first of the two zero blocks that end an archive; anything after it is ignored, as tar does.
      this.state = { kind: "ended" };
      return;
    }
    if (!checksumMatches(block)) throw new TarFormatError("not a tar archive (header checksum mismatch)");
    const typeflag = String.fromCharCode(block[156] as number);
    const size = parseNumber(block.subarray(124, 136));
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (typeflag === "L" || typeflag === "K" || typeflag === "x" || typeflag === "g") {
      if (size > MAX_META_BYTES)
        throw new TarFormatError(`a ${typeflag} header of ${size} bytes is too large`);
      this.state = { kind: "meta", type: typeflag, remaining: size, padding, parts: [] };
      if (size === 0) {
        this.meta(typeflag, Buffer.alloc(0));
        this.state = { kind: "header" };
      }
      return;
    }
    const magic = block.subarray(257, 263).toString("latin1");
    const name = cString(block.subarray(0, 100));
    // POSIX ustar splits long names into prefix/name; GNU's "ustar  " uses those bytes for other fields.
    const prefix = magic === "ustar\0" ? cString(block.subarray(345, 500)) : "";
    const path = this.pax.path ?? this.longName ?? (prefix ? `${prefix}/${name}` : name);
    const linkTarget = this.pax.linkpath ?? this.longLink ?? cString(block.subarray(157, 257));
    const paxSize = this.pax.size !== undefined ? Number(this.pax.size) : undefined;
    if (paxSize !== undefined && (!Number.isSafeInteger(paxSize) || paxSize < 0))
      throw new TarFormatError(`member ${path}: invalid pax size "${this.pax.size}"`);
    const dataSize = paxSize ?? size;
    this.longName = undefined;
    this.longLink = undefined;
    this.pax = {};
    const type = entryType(typeflag, path);
    const mode = parseNumber(block.subarray(100, 108));
    // Only regular files carry content for the caller; other members' content (if any) is skipped.
    const contentSize = type === "file" ? dataSize : 0;
    this.visitor.entry({ path, type, size: contentSize, mode, linkTarget });
    const dataPadding = (BLOCK - (dataSize % BLOCK)) % BLOCK;
    if (type === "file") {
      if (dataSize === 0) {
        this.visitor.endEntry();
        this.state = { kind: "padding", remaining: dataPadding };
      } else {
        this.state = { kind: "data", remaining: dataSize, padding: dataPadding };
      }
    } else {
      this.visitor.endEntry();
      this.state = { kind: "padding", remaining: dataSize + dataPadding };
    }
  }

  private meta(type: "L" | "K" | "x" | "g", data: Buffer): void {
    if (type === "L") this.longName = cString(data);
    else if (type === "K") this.longLink = cString(data);
    else if (type === "x") this.pax = parsePax(data);
    // "g": global pax headers (GitHub puts the commit there) change nothing we use.
  }
}

function entryType(typeflag: string, path: string): TarEntryType {
  switch (typeflag) {
    case "0":
    case "\0":
    case "7":
      // Old archives mark directories only by a trailing slash.
      return path.endsWith("/") ? "directory" : "file";
    case "1":
      return "hardlink";
    case "2":
      return "symlink";
    case "5":
      return "directory";
    default:
      return "other";
  }
}

function cString(bytes: Buffer): string {
  const nul = bytes.indexOf(0);
  return bytes.subarray(0, nul === -1 ? bytes.length : nul).toString("utf8");
}

/** Octal (NUL/space padded), or GNU's base-256 for values that do not fit. */
function parseNumber(field: Buffer): number {
  if (((field[0] as number) & 0x80) !== 0) {
    let value = (field[0] as number) & 0x7f;
    for (const byte of field.subarray(1)) {
      value = value * 256 + byte;
      if (!Number.isSafeInteger(value)) throw new TarFormatError("a numeric header field is too large");
    }
    return value;
  }
  const text = field.toString("latin1").replace(/\0.*$/s, "").trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`invalid numeric header field "${text}"`);
  return Number.parseInt(text, 8);
}

function checksumMatches(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (block[i] as number);
  let expected: number;
  try {
    expected = parseNumber(block.subarray(148, 156));
  } catch {
    return false;
  }
  return sum === expected;
}

/** pax extended header records: `<length> <key>=<value>\n`. */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const length = Number.parseInt(data.subarray(pos, space).toString("latin1"), 10);
    if (!Number.isSafeInteger(length) || length <= space - pos || pos + length > data.length)
      throw new TarFormatError("malformed pax header");
    const record = data.subarray(space + 1, pos + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += length;
  }
  return out;
}
