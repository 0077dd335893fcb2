// Semver ranges with the semantics of Masterminds/semver/v3 (v3.4), the library Flux's image-reflector-controller
// checks `spec.policy.semver.range` with. node-semver reads several ranges differently (commas as AND, an empty
// range, "1.x" with prereleases, "!="), so the grammar and the comparator rules are ported here rather than
// approximated; the behaviour tables in test/images/policy-semver.test.ts come from Flux's and Masterminds' tests.
//
// A range is `||`-separated groups; a group is comparators separated by spaces or commas; `A - B` is
// `>= A, <= B`. A prerelease version only satisfies a group in which some comparator has a prerelease.
import { compareVersions, parseConstraintVersion, type SemanticVersion } from "./semver-version.js";

type Operator = "" | "=" | "!=" | ">" | "<" | ">=" | "=>" | "<=" | "=<" | "~" | "~>" | "^";

interface Comparator {
  operator: Operator;
  version: SemanticVersion;
  /** The version as written, for messages. */
  original: string;
  /** An x/*, or a missing part, stood for the minor (`1`, `1.x`) or the patch (`1.2`, `1.2.x`). */
  dirty: boolean;
  minorDirty: boolean;
  patchDirty: boolean;
}

export interface SemverRange {
  readonly text: string;
  satisfies(version: SemanticVersion): boolean;
}

// Masterminds' patterns, character for character: `[0-9|x|X|\*]` does include "|", and the operator list has
// an empty alternative.
const cv =
  String.raw`v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?` +
  String.raw`(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?` +
  String.raw`(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?`;
const ops = String.raw`=||!=|>|<|>=|=>|<=|=<|~|~>|\^`;
const comparatorPattern = new RegExp(String.raw`^\s*(${ops})\s*(${cv})\s*$`);
const hyphenRangePattern = new RegExp(String.raw`\s*(${cv})\s+-\s+(${cv})\s*`, "g");
const findComparatorPattern = new RegExp(String.raw`(${ops})\s*(${cv})`, "g");
const validGroupPattern = new RegExp(
  String.raw`^(\s*(${ops})\s*(${cv})\s*)((?:\s+|,\s*)(${ops})\s*(${cv})\s*)*$`,
);

export class SemverRangeError extends Error {
  override name = "SemverRangeError";
}

/** Parses a range as Flux would; throws SemverRangeError for one Flux rejects. */
export function parseSemverRange(text: string): SemverRange {
  const groups = rewriteHyphenRanges(text)
    .split("||")
    .map((group) => {
      if (!validGroupPattern.test(group)) throw new SemverRangeError(`improper constraint: ${group}`);
      const found = group.match(findComparatorPattern) ?? [group];
      const comparators = found.map(parseComparator);
      return { comparators, includePrerelease: comparators.some((c) => c.version.prerelease !== "") };
    });
  return {
    text,
    satisfies: (version) =>
      groups.some((group) => group.comparators.every((c) => check(version, c, group.includePrerelease))),
  };
}

function rewriteHyphenRanges(text: string): string {
  let rewritten = text;
  for (const match of text.matchAll(hyphenRangePattern)) {
    // Group 1 is the whole first version; the second starts after the first's 10 groups.
    rewritten = rewritten.replace(match[0], `>= ${match[1]}, <= ${match[11]} `);
  }
  return rewritten;
}

function parseComparator(text: string): Comparator {
  const match = comparatorPattern.exec(text);
  if (!match) throw new SemverRangeError(`improper constraint: ${text}`);
  const operator = match[1] as Operator;
  const original = match[2]!;
  const [major, minor, patch, prerelease] = [match[3] ?? "", match[4] ?? "", match[5] ?? "", match[6] ?? ""];
  let normalised = original;
  let dirty = false;
  let minorDirty = false;
  let patchDirty = false;
  if (isWildcard(major) || major === "") {
    normalised = `0.0.0${prerelease}`;
    dirty = true;
  } else if (isWildcard(minor.slice(1)) || minor === "") {
    normalised = `${major}.0.0${prerelease}`;
    dirty = true;
    minorDirty = true;
  } else if (isWildcard(patch.slice(1)) || patch === "") {
    normalised = `${major}${minor}.0${prerelease}`;
    dirty = true;
    patchDirty = true;
  }
  const version = parseConstraintVersion(normalised);
  if (!version) throw new SemverRangeError(`improper constraint: ${text.trim()}`);
  return { operator, version, original, dirty, minorDirty, patchDirty };
}

function isWildcard(part: string): boolean {
  return part === "x" || part === "X" || part === "*";
}

function check(v: SemanticVersion, c: Comparator, includePrerelease: boolean): boolean {
  if (v.prerelease !== "" && !includePrerelease) return false;
  const con = c.version;
  const compared = compareVersions(v, con);
  switch (c.operator) {
    case "":
    case "=":
      return c.dirty ? tilde(v, c) : compared === 0;
    case "!=":
      return notEqual(v, c);
    case ">":
      if (!c.dirty) return compared > 0;
      if (v.major !== con.major) return v.major > con.major;
      // ">11" needs 12 or more; ">11.1" needs 11.2 or more.
      if (c.minorDirty) return false;
      if (c.patchDirty) return v.minor > con.minor;
      return compared > 0;
    case "<":
      return compared < 0;
    case ">=":
    case "=>":
      return compared >= 0;
    case "<=":
    case "=<":
      if (!c.dirty) return compared <= 0;
      if (v.major > con.major) return false;
      return !(v.major === con.major && v.minor > con.minor && !c.minorDirty);
    case "~":
    case "~>":
      return tilde(v, c);
    case "^":
      return caret(v, c);
  }
}

function notEqual(v: SemanticVersion, c: Comparator): boolean {
  const con = c.version;
  if (c.dirty) {
    if (con.major !== v.major) return true;
    if (con.minor !== v.minor && !c.minorDirty) return true;
    if (c.minorDirty) return false;
    if (con.patch !== v.patch && !c.patchDirty) return true;
    if (c.patchDirty) {
      if (v.prerelease !== "" || con.prerelease !== "") {
        return (
          compareVersions(
            { ...v, major: 0, minor: 0, patch: 0 },
            { ...con, major: 0, minor: 0, patch: 0 },
          ) !== 0
        );
      }
      return false;
    }
  }
  return compareVersions(v, con) !== 0;
}

// ~1.2.3 is >=1.2.3 <1.3.0; ~1 and ~1.x are >=1.0.0 <2.0.0; ~0.0.0 (without x) matches everything.
function tilde(v: SemanticVersion, c: Comparator): boolean {
  const con = c.version;
  if (compareVersions(v, con) < 0) return false;
  if (con.major === 0 && con.minor === 0 && con.patch === 0 && !c.minorDirty && !c.patchDirty) return true;
  if (v.major !== con.major) return false;
  return v.minor === con.minor || c.minorDirty;
}

// ^1.2.3 is >=1.2.3 <2.0.0; ^0.2.3 is >=0.2.3 <0.3.0; ^0.0.3 is =0.0.3; ^0.0 is <0.1.0; ^0 is <1.0.0.
function caret(v: SemanticVersion, c: Comparator): boolean {
  const con = c.version;
  if (compareVersions(v, con) < 0) return false;
  if (con.major > 0 || c.minorDirty) return v.major === con.major;
  if (v.major > 0) return false;
  if (con.minor > 0 || c.patchDirty) return v.minor === con.minor;
  if (v.minor > 0) return false;
  return v.patch === con.patch;
}
