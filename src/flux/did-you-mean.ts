// "Did you mean …?" for names a person typed: the known name closest to a typo, when it is close enough that the
// suggestion is likely right (a swapped, missing, extra or wrong letter or two, or a difference of case only).

/** Edit distance counting an adjacent swap as one edit (optimal string alignment), so `wiat` is one from `wait`. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => [i, ...new Array<number>(cols - 1).fill(0)]);
  for (let j = 0; j < cols; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i < rows; i++) {
    const row = d[i] as number[];
    const prev = d[i - 1] as number[];
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
      row[j] = best;
    }
  }
  return (d[rows - 1] as number[])[cols - 1] as number;
}

/** How many edits still read as a typo of a name of this length. */
function tolerance(length: number): number {
  // One or two letters changed in a two-letter name is another name, not a typo.
  if (length < 3) return 0;
  return Math.min(3, Math.max(1, Math.floor(length / 4)));
}

/**
 * The candidate `typed` most likely stands for, or undefined when none is close. Names longer than 100
 * characters are never compared (repository strings are untrusted; the distance is quadratic).
 */
export function closestName(typed: string, candidates: Iterable<string>): string | undefined {
  if (typed.length > 100) return undefined;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === typed || candidate.length > 100) continue;
    const allowed = tolerance(Math.max(typed.length, candidate.length));
    // The distance is at least the difference in length: most names are ruled out without computing it.
    if (Math.abs(candidate.length - typed.length) > allowed) continue;
    // Case does not count: `targetnamespace` stands for `targetNamespace`.
    const distance = editDistance(typed.toLowerCase(), candidate.toLowerCase());
    if (distance <= allowed && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** ` (did you mean x?)` when a candidate is close, else the empty string. */
export function didYouMean(typed: string, candidates: Iterable<string>): string {
  const match = closestName(typed, candidates);
  return match === undefined ? "" : ` (did you mean ${match}?)`;
}
