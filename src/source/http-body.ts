// Response bodies from source servers (registries, Helm repositories) read with a bound while they stream:
// a declared Content-Length over the bound is refused before reading, and a body that keeps coming is cut at
// the bound, so nothing larger than the bound is ever held in memory or written to disk.
import { closeSync, openSync, writeSync } from "node:fs";

export class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";
}

/** The body as bytes, at most `limit` of them. */
export async function readBoundedBody(response: Response, limit: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  await eachChunk(response, limit, what, (chunk) => parts.push(Buffer.from(chunk)));
  return Buffer.concat(parts);
}

/** Streams the body into a new file at `path` (never an existing one), at most `limit` bytes. */
export async function writeBoundedBody(
  response: Response,
  path: string,
  limit: number,
  what: string,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<number> {
  const fd = openSync(path, "wx", 0o644);
  try {
    return await eachChunk(response, limit, what, (chunk) => {
      onChunk?.(chunk);
      let offset = 0;
      while (offset < chunk.length) offset += writeSync(fd, chunk, offset, chunk.length - offset);
    });
  } finally {
    closeSync(fd);
  }
}

async function eachChunk(
  response: Response,
  limit: number,
  what: string,
  onChunk: (chunk: Uint8Array) => void,
): Promise<number> {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw new BodyTooLargeError(`${what}: larger than the ${limit}-byte limit (${declared} bytes announced)`);
  }
  if (!response.body) return 0;
  const reader = response.body.getReader();
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return received;
    received += value.length;
    if (received > limit) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLargeError(`${what}: larger than the ${limit}-byte limit; stopped reading`);
    }
    onChunk(value);
  }
}

/** A fetch failure in words: "timed out after 30 s", the network cause ("connect ECONNREFUSED …"), or the message. */
export function fetchFailure(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { name?: string; message?: string } };
  if (e?.name === "TimeoutError" || e?.cause?.name === "TimeoutError")
    return `timed out after ${formatMs(timeoutMs)}`;
  return e?.cause?.message ?? e?.message ?? String(err);
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}
