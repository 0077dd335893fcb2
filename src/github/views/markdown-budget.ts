// GitHub rejects check run summaries over 65,535 characters and comments over 65,536. Reports are assembled
// from blocks in order of importance; blocks that do not fit are dropped and counted, and a note says so.

export const CHECK_RUN_TEXT_LIMIT = 65_535;
export const COMMENT_LIMIT = 65_536;

export interface Block {
  text: string;
  /** A cheaper stand-in when the full text does not fit (e.g. a diff replaced by one line). */
  fallback?: string;
}

/** Joins blocks until `limit` (minus room for the note); says what was shortened or left out. */
export function fitBlocks(
  blocks: Block[],
  limit: number,
  noteFor: (shortened: number, omitted: number) => string,
): string {
  const reserve = 400;
  const out: string[] = [];
  let used = 0;
  let shortened = 0;
  let omitted = 0;
  // What the blocks after i need at least, so an early huge diff cannot starve later summaries (suffix sums).
  const restAfter = new Array<number>(blocks.length + 1).fill(0);
  for (let i = blocks.length - 1; i >= 0; i--) {
    const b = blocks[i] as Block;
    restAfter[i] = (restAfter[i + 1] ?? 0) + Math.min(b.text.length, (b.fallback ?? "").length || 80);
  }
  blocks.forEach((block, i) => {
    const rest = restAfter[i + 1] ?? 0;
    const budget = limit - reserve - used;
    if (block.text.length + 1 <= budget - Math.min(rest, budget / 2)) {
      out.push(block.text);
      used += block.text.length + 1;
    } else if (block.fallback !== undefined && block.fallback.length + 1 <= budget) {
      out.push(block.fallback);
      used += block.fallback.length + 1;
      shortened++;
    } else {
      omitted++;
    }
  });
  if (shortened + omitted > 0) out.push(noteFor(shortened, omitted));
  return out.join("\n");
}
