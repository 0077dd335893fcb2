// Semantic versions as Flux's image policies see them. Flux parses tags with fluxcd/pkg/version.ParseVersion:
// strict SemVer 2.0 (three numeric parts, no leading zeros) with one optional leading "v", and compares them
// with Masterminds/semver/v3 (build metadata ignored). node-semver is looser on input ("=1.2.3", " 1.2.3"),
// so tags are validated here and compared with the same rules Masterminds uses.

export interface SemanticVersion {
  major: number;
  minor: number;
  patch: number;
  /** Dot-separated prerelease identifiers; empty for a release. */
  prerelease: string;
  /** The text as written, e.g. the tag `v1.2.3`. */
  original: string;
}

const identifier = /^[0-9A-Za-z-]+$/;
const numeric = /^[0-9]+$/;

/** A tag as Flux's semver policy accepts it, or undefined (the tag is skipped). */
export function parseTagVersion(tag: string): SemanticVersion | undefined {
  const text = tag.startsWith("v") ? tag.slice(1) : tag;
  const parts = splitN(text, ".", 3);
  if (parts.length !== 3) return undefined;
  let rest = parts[2]!;
  let prerelease = "";
  const plus = rest.indexOf("+");
  if (plus !== -1) {
    if (!validMetadata(rest.slice(plus + 1))) return undefined;
    rest = rest.slice(0, plus);
  }
  const dash = rest.indexOf("-");
  if (dash !== -1) {
    prerelease = rest.slice(dash + 1);
    if (!validPrerelease(prerelease)) return undefined;
    rest = rest.slice(0, dash);
  }
  const numbers = [parts[0]!, parts[1]!, rest];
  for (const part of numbers) {
    if (!numeric.test(part) || (part.length > 1 && part.startsWith("0"))) return undefined;
  }
  const [major, minor, patch] = numbers.map(Number) as [number, number, number];
  // Go parses uint64; beyond 2^53 a JS number would compare wrongly, so such tags are skipped.
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined;
  return { major, minor, patch, prerelease, original: tag };
}

/** Loose parsing for versions inside constraints (Masterminds' NewVersion: leading zeros allowed). */
export function parseConstraintVersion(text: string): SemanticVersion | undefined {
  const match =
    /^v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$/.exec(text);
  if (!match) return undefined;
  const prerelease = match[4] ?? "";
  if (prerelease && !validPrerelease(prerelease)) return undefined;
  if (match[5] && !validMetadata(match[5])) return undefined;
  const [major, minor, patch] = [match[1], match[2], match[3]].map((part) => Number(part ?? "0")) as [
    number,
    number,
    number,
  ];
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined;
  return { major, minor, patch, prerelease, original: text };
}

export function compareVersions(a: SemanticVersion, b: SemanticVersion): number {
  if (a.major !== b.major) return a.major > b.major ? 1 : -1;
  if (a.minor !== b.minor) return a.minor > b.minor ? 1 : -1;
  if (a.patch !== b.patch) return a.patch > b.patch ? 1 : -1;
  if (a.prerelease === b.prerelease) return 0;
  if (a.prerelease === "") return 1;
  if (b.prerelease === "") return -1;
  return comparePrerelease(a.prerelease, b.prerelease);
}

function comparePrerelease(a: string, b: string): number {
  const left = a.split(".");
  const right = b.split(".");
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const difference = comparePrereleasePart(left[i] ?? "", right[i] ?? "");
    if (difference !== 0) return difference;
  }
  return 0;
}

function comparePrereleasePart(a: string, b: string): number {
  if (a === b) return 0;
  if (a === "") return -1;
  if (b === "") return 1;
  const aNumeric = numeric.test(a);
  const bNumeric = numeric.test(b);
  // Numeric identifiers sort before alphanumeric ones (SemVer 2.0 §11.4.3).
  if (aNumeric && bNumeric) return Number(a) > Number(b) ? 1 : -1;
  if (aNumeric) return -1;
  if (bNumeric) return 1;
  return a > b ? 1 : -1;
}

function validPrerelease(prerelease: string): boolean {
  return prerelease.split(".").every((part) => {
    if (part === "") return false;
    if (numeric.test(part)) return part.length === 1 || !part.startsWith("0");
    return identifier.test(part);
  });
}

function validMetadata(metadata: string): boolean {
  return metadata.split(".").every((part) => identifier.test(part));
}

/** Go's strings.SplitN. */
function splitN(text: string, separator: string, n: number): string[] {
  const parts: string[] = [];
  let rest = text;
  while (parts.length < n - 1) {
    const at = rest.indexOf(separator);
    if (at === -1) break;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + separator.length);
  }
  parts.push(rest);
  return parts;
}
