// A unified line diff (longest common subsequence), enough for reviewing rendered Kubernetes objects.
// Kept here rather than pulling in a diff library: objects are small and the output format is ours.

const maxCells = 4_000_000; // n*m bound for the LCS table; past it, show a whole replacement instead

export function unifiedDiff(before: string, after: string, opts: { context?: number } = {}): string {
  const context = opts.context ?? 3;
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = a.length * b.length > maxCells ? replaceAll(a, b) : lcsOps(a, b);
  if (ops.every((op) => op.kind === " ")) return "";
  return hunks(ops, context);
}

type Op = { kind: " " | "-" | "+"; line: string; aIndex: number; bIndex: number };

function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

function replaceAll(a: string[], b: string[]): Op[] {
  return [
    ...a.map((line, i) => ({ kind: "-" as const, line, aIndex: i, bIndex: 0 })),
    ...b.map((line, j) => ({ kind: "+" as const, line, aIndex: a.length, bIndex: j })),
  ];
}

function lcsOps(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  // lengths[i][j] = LCS length of a[i..] and b[j..], in one flat array
  const width = m + 1;
  const lengths = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lengths[i * width + j] =
        a[i] === b[j]
          ? (lengths[(i + 1) * width + j + 1] ?? 0) + 1
          : Math.max(lengths[(i + 1) * width + j] ?? 0, lengths[i * width + j + 1] ?? 0);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push({ kind: " ", line: a[i] ?? "", aIndex: i, bIndex: j });
      i++;
      j++;
    } else if ((lengths[(i + 1) * width + j] ?? 0) >= (lengths[i * width + j + 1] ?? 0)) {
      ops.push({ kind: "-", line: a[i] ?? "", aIndex: i, bIndex: j });
      i++;
    } else {
      ops.push({ kind: "+", line: b[j] ?? "", aIndex: i, bIndex: j });
      j++;
    }
  }
  for (; i < n; i++) ops.push({ kind: "-", line: a[i] ?? "", aIndex: i, bIndex: j });
  for (; j < m; j++) ops.push({ kind: "+", line: b[j] ?? "", aIndex: i, bIndex: j });
  return ops;
}

function hunks(ops: Op[], context: number): string {
  const out: string[] = [];
  let k = 0;
  while (k < ops.length) {
    const firstChange = ops.findIndex((op, idx) => idx >= k && op.kind !== " ");
    if (firstChange === -1) break;
    const start = Math.max(k, firstChange - context);
    // extend the hunk while changes are closer than 2*context lines apart
    let end = firstChange;
    let lastChange = firstChange;
    while (end < ops.length && end - lastChange <= 2 * context) {
      if (ops[end]?.kind !== " ") lastChange = end;
      end++;
    }
    end = Math.min(ops.length, lastChange + context + 1);
    const slice = ops.slice(start, end);
    const aStart = (slice[0]?.aIndex ?? 0) + 1;
    const bStart = (slice[0]?.bIndex ?? 0) + 1;
    const aLen = slice.filter((op) => op.kind !== "+").length;
    const bLen = slice.filter((op) => op.kind !== "-").length;
    out.push(`@@ -${aLen ? aStart : aStart - 1},${aLen} +${bLen ? bStart : bStart - 1},${bLen} @@`);
    for (const op of slice) out.push(`${op.kind}${op.line}`);
    k = end;
  }
  return `${out.join("\n")}\n`;
}
