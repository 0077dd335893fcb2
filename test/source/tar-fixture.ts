// Hand-made tar archives for tests, including the hostile members real tar tools refuse to write (absolute
// names, `..`, symlinks out, hard links to anywhere), so the extractor is tested against what an attacker sends.
import { gzipSync } from "node:zlib";

export type FixtureMember =
  | { type?: "file"; path: string; content?: string | Buffer; mode?: number }
  | { type: "directory"; path: string }
  | { type: "symlink" | "hardlink"; path: string; target: string }
  | { type: "fifo"; path: string };

const typeflags = { file: "0", directory: "5", symlink: "2", hardlink: "1", fifo: "6" } as const;

function header(name: string, typeflag: string, size: number, linkname = "", mode = 0o644): Buffer {
  const block = Buffer.alloc(512);
  const put = (text: string, offset: number, length: number) => {
    Buffer.from(text, "utf8").copy(block, offset, 0, length);
  };
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, "0");
  put(name, 0, 100);
  put(octal(mode, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(0, 12), 136, 12);
  put("        ", 148, 8);
  put(typeflag, 156, 1);
  put(linkname, 157, 100);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  let sum = 0;
  for (const byte of block) sum += byte;
  put(`${octal(sum, 7)}\0`, 148, 8);
  return block;
}

/** A pax extended header carrying `path` (names longer than 100 bytes). */
function paxHeader(path: string): Buffer {
  let record = ` path=${path}\n`;
  let length = record.length;
  while (`${length}${record}`.length !== length) length = `${length}${record}`.length;
  record = `${length}${record}`;
  return Buffer.concat([header("PaxHeader", "x", Buffer.byteLength(record)), pad(Buffer.from(record))]);
}

function pad(data: Buffer): Buffer {
  const rest = (512 - (data.length % 512)) % 512;
  return Buffer.concat([data, Buffer.alloc(rest)]);
}

/** An uncompressed tar stream of `members`, in order. */
export function tarOf(members: FixtureMember[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const type = m.type ?? "file";
    const name = Buffer.byteLength(m.path) > 99 ? "long-name-in-pax-header" : m.path;
    if (name !== m.path) parts.push(paxHeader(m.path));
    if (type === "file") {
      const f = m as { content?: string | Buffer; mode?: number };
      const content = Buffer.isBuffer(f.content) ? f.content : Buffer.from(f.content ?? "");
      parts.push(header(name, "0", content.length, "", f.mode), pad(content));
    } else if (type === "symlink" || type === "hardlink") {
      parts.push(header(name, typeflags[type], 0, (m as { target: string }).target));
    } else {
      parts.push(header(name, typeflags[type], 0, "", 0o755));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** The same, gzipped. */
export function tarGzOf(members: FixtureMember[]): Buffer {
  return gzipSync(tarOf(members));
}
