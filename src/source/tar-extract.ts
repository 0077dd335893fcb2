// Unpacking gzipped tarballs from outside (OCI layers, chart archives, GitHub repository tarballs) without a tar
// binary: every member is checked before it is written. Nothing lands outside the target directory — absolute
// names and `..` are refused, no member is written through a symlink, symlinks that lead out are refused (or
// left out), hard links become copies of files of the same archive — and the compressed input, the unpacked
// bytes and the number of members are bounded while streaming, so nothing is buffered or written before its
// size is checked.
import {
  closeSync,
  constants,
  copyFileSync,
  createReadStream,
  lstatSync,
  mkdirSync,
  openSync,
  realpathSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { isInside } from "../util/path-inside.js";
import { type TarEntry, TarFormatError, TarReader, type TarVisitor } from "./tar-reader.js";

export interface ArchiveLimits {
  /** Bytes read from the source (the compressed archive). */
  maxCompressedBytes: number;
  /** Bytes of the uncompressed tar stream, which bounds the content written (hard link copies count too). */
  maxUnpackedBytes: number;
  /** Members of every kind (files, directories, links). */
  maxEntries: number;
}

export const DEFAULT_ARCHIVE_LIMITS: Readonly<ArchiveLimits> = {
  maxCompressedBytes: 256 * 1024 * 1024,
  maxUnpackedBytes: 1024 * 1024 * 1024,
  maxEntries: 100_000,
};

/** A file path, bytes, or a stream of bytes (a fetch body). */
export type ArchiveInput = string | Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export interface ExtractOptions {
  /** Names the archive in errors: "OCI layer sha256:…", "acme/repo@abc1234". */
  what: string;
  limits?: Partial<ArchiveLimits>;
  /** Leading path components removed from every member (GitHub tarballs: 1). */
  stripComponents?: number;
  /**
   * Symlinks whose target lies outside the directory: refuse the archive (default), or leave them out — for a
   * repository tree, where such a link may sit unused in a corner; the engine could not follow it anyway.
   */
  escapingSymlinks?: "refuse" | "skip";
}

export interface ExtractSummary {
  files: number;
  /** Members left out: devices, FIFOs, symlinks leading out (with `escapingSymlinks: "skip"`). */
  skipped: string[];
}

export class ArchiveError extends Error {
  override name = "ArchiveError";
}

/** A bound of ArchiveLimits was reached; `limit` says which, for callers with their own wording. */
export class ArchiveLimitError extends ArchiveError {
  override name = "ArchiveLimitError";
  constructor(
    message: string,
    readonly limit: keyof ArchiveLimits,
  ) {
    super(message);
  }
}

/** Extracts a gzipped tar archive into `dir` (created if missing), checking every member first. */
export async function extractTarGz(
  input: ArchiveInput,
  dir: string,
  opts: ExtractOptions,
): Promise<ExtractSummary> {
  mkdirSync(dir, { recursive: true });
  const budget = { unpacked: 0 };
  const extractor = new Extractor(realpathSync(dir), opts, budget);
  try {
    await readTarGz(input, extractor, opts, budget);
  } finally {
    extractor.close();
  }
  extractor.finish();
  return extractor.summary;
}

/**
 * Reads the content of the first member whose (checked) name matches, e.g. a chart's `<name>/Chart.yaml`;
 * undefined when none does. The member may be at most `maxBytes` long.
 */
export async function readFileFromTarGz(
  input: ArchiveInput,
  matches: (path: string) => boolean,
  opts: ExtractOptions & { maxBytes?: number },
): Promise<string | undefined> {
  const maxBytes = opts.maxBytes ?? 8 * 1024 * 1024;
  let found: Buffer[] | undefined;
  let current: Buffer[] | undefined;
  let done = false;
  const visitor: TarVisitor = {
    entry(entry) {
      current = undefined;
      if (done || entry.type !== "file") return;
      const path = memberPath(entry.path, opts.what, 0);
      if (path === undefined || !matches(path.join("/"))) return;
      if (entry.size > maxBytes)
        throw new ArchiveError(`${opts.what}: ${entry.path} is larger than ${maxBytes} bytes`);
      current = [];
    },
    data(chunk) {
      current?.push(Buffer.from(chunk));
    },
    endEntry() {
      if (current && !done) {
        found = current;
        done = true;
      }
      current = undefined;
    },
  };
  await readTarGz(input, countingVisitor(visitor, opts), opts, { unpacked: 0 });
  return found ? Buffer.concat(found).toString("utf8") : undefined;
}

function limitsOf(opts: ExtractOptions): ArchiveLimits {
  return { ...DEFAULT_ARCHIVE_LIMITS, ...opts.limits };
}

/** Bounds the number of members before the visitor sees them. */
function countingVisitor(visitor: TarVisitor, opts: ExtractOptions): TarVisitor {
  const { maxEntries } = limitsOf(opts);
  let entries = 0;
  return {
    entry(entry) {
      entries += 1;
      if (entries > maxEntries)
        throw new ArchiveLimitError(`${opts.what}: more than ${maxEntries} members; refused`, "maxEntries");
      visitor.entry(entry);
    },
    data: (chunk) => visitor.data(chunk),
    endEntry: () => visitor.endEntry(),
  };
}

/** Bytes written so far, shared by the stream and the hard link copies that add to it. */
interface UnpackBudget {
  unpacked: number;
}

async function readTarGz(
  input: ArchiveInput,
  visitor: TarVisitor,
  opts: ExtractOptions,
  budget: UnpackBudget,
): Promise<void> {
  const limits = limitsOf(opts);
  const what = opts.what;
  const source =
    typeof input === "string"
      ? createReadStream(input)
      : input instanceof ReadableStream
        ? Readable.fromWeb(input)
        : Readable.from(chunksOf(input));
  let compressed = 0;
  const reader = new TarReader(visitor);
  const bounded = async function* (stream: AsyncIterable<Buffer | Uint8Array>) {
    for await (const chunk of stream) {
      compressed += chunk.length;
      if (compressed > limits.maxCompressedBytes)
        throw new ArchiveLimitError(
          `${what}: larger than the ${limits.maxCompressedBytes}-byte limit; refused`,
          "maxCompressedBytes",
        );
      yield chunk;
    }
  };
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      budget.unpacked += chunk.length;
      if (budget.unpacked > limits.maxUnpackedBytes) {
        callback(
          new ArchiveLimitError(
            `${what}: unpacks to more than ${limits.maxUnpackedBytes} bytes; refused`,
            "maxUnpackedBytes",
          ),
        );
        return;
      }
      try {
        reader.push(chunk);
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    final(callback) {
      try {
        reader.end();
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
  });
  try {
    await pipeline(source, bounded, createGunzip(), sink);
  } catch (err) {
    if (err instanceof ArchiveError) throw err;
    if (err instanceof TarFormatError) throw new ArchiveError(`${what}: ${err.message}`, { cause: err });
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (code.startsWith("Z_"))
      throw new ArchiveError(`${what} is not a gzip-compressed tar archive (${(err as Error).message})`, {
        cause: err,
      });
    throw new ArchiveError(`${what}: ${(err as Error).message}`, { cause: err });
  }
}

async function* chunksOf(input: Uint8Array | AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  if (input instanceof Uint8Array) {
    yield input;
    return;
  }
  yield* input;
}

/**
 * The member's path as checked components (after stripping), or undefined when nothing is left of it (the
 * top-level directory GitHub wraps a tree in). Absolute names and `..` are refused, not rewritten.
 */
function memberPath(name: string, what: string, strip: number): string[] | undefined {
  if (name.startsWith("/") || /^[A-Za-z]:[\\/]/.test(name))
    throw new ArchiveError(`${what}: member "${name}" has an absolute path; refused`);
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new ArchiveError(`${what}: member "${name}" contains ".."; refused`);
  const kept = parts.slice(strip);
  return kept.length === 0 ? undefined : kept;
}

class Extractor implements TarVisitor {
  readonly summary: ExtractSummary = { files: 0, skipped: [] };
  private readonly limits: ArchiveLimits;
  private readonly strip: number;
  private readonly directories = new Set<string>();
  private readonly files = new Set<string>();
  private readonly symlinks: { path: string; name: string }[] = [];
  private entries = 0;
  private fd?: number;

  constructor(
    private readonly root: string,
    private readonly opts: ExtractOptions,
    private readonly budget: UnpackBudget,
  ) {
    this.limits = limitsOf(opts);
    this.strip = opts.stripComponents ?? 0;
    this.directories.add(root);
  }

  entry(entry: TarEntry): void {
    this.entries += 1;
    if (this.entries > this.limits.maxEntries)
      throw new ArchiveLimitError(
        `${this.opts.what}: more than ${this.limits.maxEntries} members; refused`,
        "maxEntries",
      );
    const parts = memberPath(entry.path, this.opts.what, this.strip);
    if (parts === undefined) return;
    const target = join(this.root, ...parts);
    switch (entry.type) {
      case "directory":
        this.directory(target, entry.path);
        return;
      case "file":
        this.file(target, entry);
        return;
      case "symlink":
        this.symlink(target, entry);
        return;
      case "hardlink":
        this.hardlink(target, entry);
        return;
      default:
        this.summary.skipped.push(entry.path);
    }
  }

  data(chunk: Buffer): void {
    if (this.fd === undefined) return;
    let offset = 0;
    while (offset < chunk.length) offset += writeSync(this.fd, chunk, offset, chunk.length - offset);
  }

  endEntry(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** After the last member: every symlink, followed for real now, must still end inside. */
  finish(): void {
    for (const link of this.symlinks) {
      let real: string;
      try {
        real = realpathSync(link.path);
      } catch {
        continue; // dangling: inert
      }
      if (isInside(this.root, real)) continue;
      if (this.opts.escapingSymlinks === "skip") {
        unlinkSync(link.path);
        this.summary.skipped.push(link.name);
      } else {
        throw new ArchiveError(
          `${this.opts.what}: symlink "${link.name}" leads outside the archive; refused`,
        );
      }
    }
  }

  /** Creates the directories up to `dir`, refusing to pass through anything that is not a real directory. */
  private directory(dir: string, name: string): void {
    if (this.directories.has(dir)) return;
    const parent = dirname(dir);
    if (parent !== dir && !this.directories.has(parent)) this.directory(parent, name);
    let stat: ReturnType<typeof lstatSync> | undefined;
    try {
      stat = lstatSync(dir);
    } catch {
      stat = undefined;
    }
    if (stat === undefined) mkdirSync(dir, { mode: 0o755 });
    else if (!stat.isDirectory()) {
      const what = stat.isSymbolicLink() ? "a symlink" : "not a directory";
      throw new ArchiveError(
        `${this.opts.what}: member "${name}" would be written through "${relative(this.root, dir)}", which is ${what}; refused`,
      );
    }
    this.directories.add(dir);
  }

  /** Makes room for a new member at `target`: an earlier file or symlink there is replaced, never followed. */
  private clear(target: string, name: string): void {
    this.directory(dirname(target), name);
    let stat: ReturnType<typeof lstatSync> | undefined;
    try {
      stat = lstatSync(target);
    } catch {
      return;
    }
    if (stat.isDirectory())
      throw new ArchiveError(`${this.opts.what}: member "${name}" would replace a directory; refused`);
    unlinkSync(target);
    this.files.delete(target);
  }

  private file(target: string, entry: TarEntry): void {
    this.clear(target, entry.path);
    const mode = (entry.mode & 0o111) !== 0 ? 0o755 : 0o644;
    this.fd = openSync(
      target,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      mode,
    );
    this.files.add(target);
    this.summary.files += 1;
  }

  private symlink(target: string, entry: TarEntry): void {
    const link = entry.linkTarget;
    const escapes = link === "" || isAbsolute(link) || !isInside(this.root, resolve(dirname(target), link));
    if (escapes) {
      if (this.opts.escapingSymlinks === "skip") {
        this.summary.skipped.push(entry.path);
        return;
      }
      throw new ArchiveError(
        `${this.opts.what}: symlink "${entry.path}" -> "${link}" leads outside the archive; refused`,
      );
    }
    this.clear(target, entry.path);
    symlinkSync(link, target);
    this.symlinks.push({ path: target, name: entry.path });
  }

  private hardlink(target: string, entry: TarEntry): void {
    const parts = memberPath(entry.linkTarget, this.opts.what, this.strip);
    const source = parts === undefined ? undefined : join(this.root, ...parts);
    if (source === undefined || !this.files.has(source)) {
      throw new ArchiveError(
        `${this.opts.what}: hard link "${entry.path}" -> "${entry.linkTarget}" does not name an earlier file of the archive; refused`,
      );
    }
    if (source === target) return;
    const size = lstatSync(source).size;
    this.budget.unpacked += size;
    if (this.budget.unpacked > this.limits.maxUnpackedBytes)
      throw new ArchiveLimitError(
        `${this.opts.what}: unpacks to more than ${this.limits.maxUnpackedBytes} bytes; refused`,
        "maxUnpackedBytes",
      );
    this.clear(target, entry.path);
    // A copy, not a link: the archive's files stay independent of each other and of anything outside.
    copyFileSync(source, target, constants.COPYFILE_EXCL);
    this.files.add(target);
    this.summary.files += 1;
  }
}
