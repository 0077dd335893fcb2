// Semver policy behaviour, in tables taken from the projects Flux builds on: fluxcd/image-reflector-controller
// internal/policy/semver_test.go (which tags are chosen, which ranges are rejected), fluxcd/pkg version tests
// (which tags are semantic versions at all) and Masterminds/semver v3.4.0 constraints_test.go (how a range
// reads; Flux checks ranges with that library).
import { describe, expect, test } from "vitest";
import { semverPolicy } from "../../src/images/policy/semver.js";
import { parseSemverRange } from "../../src/images/policy/semver-range.js";
import { parseConstraintVersion, parseTagVersion } from "../../src/images/policy/semver-version.js";
import { PolicyError } from "../../src/images/policy/types.js";

describe("semver policy (Flux's TestSemVer_Latest)", () => {
  test.each([
    [
      "picks the highest in range, skipping tags that are not versions",
      "1.0.x",
      ["1.0.0", "1.0.0.1", "1.0.0p", "1.0.1", "1.2.0", "0.1.0"],
      "1.0.1",
    ],
    ["keeps the v prefix of the chosen tag", "1.0.x", ["v1.2.3", "v1.0.0", "v0.1.0"], "v1.0.0"],
    ["finds nothing behind another prefix", "1.0.x", ["b1.2.3", "b1.0.0", "b0.1.0"], undefined],
    ["finds nothing in an empty list", "1.0.x", [], undefined],
    ["finds nothing when no version is in range", "1.0.x", ["1.2.0"], undefined],
  ])("%s", (_label, range, tags, expected) => {
    expect(semverPolicy(range).latest(tags)).toBe(expected);
  });

  test.each([
    "1.0.x",
    "^1.0",
    "=1.0.0",
    "~1.0",
    ">=1.0",
    ">0,<2.0",
    ">=1.0.0 <2.0.0",
    "~1.2",
    "^1",
    "1.x",
    "*",
  ])("accepts the range %j", (range) => {
    expect(() => semverPolicy(range)).not.toThrow();
  });

  test.each(["1.0.0p", "1x", "x1", "-1", "a", "", ">= bar", "BAR >= 1.2.3", "12.3.4.1234", "12.3.34~ 1.2.3"])(
    "rejects the range %j with a clear error",
    (range) => {
      expect(() => semverPolicy(range)).toThrow(PolicyError);
      expect(() => semverPolicy(range)).toThrow(`invalid semver range "${range}"`);
    },
  );

  test.each([
    [
      "excludes prereleases unless the range names one",
      ">=1.0.0 <2.0.0",
      ["1.0.0", "1.5.0", "1.6.0-rc.1", "2.0.0"],
      "1.5.0",
    ],
    [
      "includes prereleases when a comparator has one",
      ">=1.0.0-0 <2.0.0",
      ["1.0.0", "1.5.0", "1.6.0-rc.1", "2.0.0"],
      "1.6.0-rc.1",
    ],
    [
      "orders prerelease identifiers numerically",
      ">=1.0.0-0",
      ["1.0.0-rc.2", "1.0.0-rc.10", "1.0.0-rc.9"],
      "1.0.0-rc.10",
    ],
    ["prefers the release over its prereleases", ">=1.0.0-0", ["1.0.0-rc.1", "1.0.0", "1.0.0-beta"], "1.0.0"],
    ["reads ~1.2 as >=1.2.0 <1.3.0", "~1.2", ["1.2.0", "1.2.9", "1.3.0"], "1.2.9"],
    ["reads ^1 as >=1.0.0 <2.0.0", "^1", ["0.9.0", "1.9.9", "2.0.0"], "1.9.9"],
    ["reads ^0.2.3 as >=0.2.3 <0.3.0", "^0.2.3", ["0.2.2", "0.2.9", "0.3.0"], "0.2.9"],
    ["reads 1.x as >=1.0.0 <2.0.0", "1.x", ["1.0.0", "1.99.0", "2.0.0"], "1.99.0"],
    ["ignores build metadata when comparing, first tag wins", ">=1.0.0", ["1.0.0+b", "1.0.0+a"], "1.0.0+b"],
    ["skips versions with leading zeros", "*", ["01.2.3", "1.02.3", "1.2.3"], "1.2.3"],
    ["skips short versions", "*", ["1.2", "1", "0.0.1"], "0.0.1"],
  ])("%s", (_label, range, tags, expected) => {
    expect(semverPolicy(range).latest(tags)).toBe(expected);
  });
});

describe("which tags are semantic versions (fluxcd/pkg version.ParseVersion)", () => {
  test.each([
    ["v1.2.3", true],
    ["v1.0", false],
    ["v1", false],
    ["v1.2.beta", false],
    ["v1.2-5", false],
    ["v1.2-beta.5", false],
    ["\nv1.2", false],
    ["v1.2.0-x.Y.0+metadata", true],
    ["v1.2.0-x.Y.0+metadata-width-hypen", true],
    ["v1.2.3-rc1-with-hypen", true],
    ["v1.2.3.4", false],
    ["vv1.2.3", false],
    ["=1.2.3", false],
    ["1.2.3-01", false],
  ])("%j → %s", (tag, valid) => {
    expect(parseTagVersion(tag) !== undefined).toBe(valid);
  });
});

describe("range semantics (Masterminds/semver v3.4.0 TestConstraintsCheck)", () => {
  test.each([
    ["*", "1.2.3", true],
    ["~0.0.0", "1.2.3", true],
    ["0.x.x", "1.2.3", false],
    ["0.0.x", "1.2.3", false],
    ["0.0.0", "1.2.3", false],
    ["*", "1.2.3", true],
    ["^0.0.0", "1.2.3", false],
    ["= 2.0", "1.2.3", false],
    ["= 2.0", "2.0.0", true],
    ["4.1", "4.1.0", true],
    ["4.1.x", "4.1.3", true],
    ["1.x", "1.4", true],
    ["!=4.1", "4.1.0", false],
    ["!=4.1-alpha", "4.1.0-alpha", false],
    ["!=4.1-alpha", "4.1.1-alpha", false],
    ["!=4.1-alpha", "4.1.0", true],
    ["!=4.1", "5.1.0", true],
    ["!=4.x", "5.1.0", true],
    ["!=4.x", "4.1.0", false],
    ["!=4.1.x", "4.2.0", true],
    ["!=4.2.x", "4.2.3", false],
    [">1.1", "4.1.0", true],
    [">1.1", "1.1.0", false],
    ["<1.1", "0.1.0", true],
    ["<1.1", "1.1.0", false],
    ["<1.1", "1.1.1", false],
    ["<1.x", "1.1.1", false],
    ["<1.x", "0.1.1", true],
    ["<1.x", "2.0.0", false],
    ["<1.1.x", "1.2.1", false],
    ["<1.1.x", "1.1.500", false],
    ["<1.1.x", "1.0.500", true],
    ["<1.2.x", "1.1.1", true],
    [">=1.1", "4.1.0", true],
    [">=1.1", "4.1.0-beta", false],
    [">=1.1", "1.1.0", true],
    [">=1.1", "0.0.9", false],
    ["<=1.1", "0.1.0", true],
    ["<=1.1", "0.1.0-alpha", false],
    ["<=1.1-a", "0.1.0-alpha", true],
    ["<=1.1", "1.1.0", true],
    ["<=1.x", "1.1.0", true],
    ["<=2.x", "3.0.0", false],
    ["<=1.1", "1.1.1", true],
    ["<=1.1.x", "1.2.500", false],
    ["<=4.5", "3.4.0", true],
    ["<=4.5", "3.7.0", true],
    ["<=4.5", "4.6.3", false],
    [">1.1, <2", "1.1.1", false],
    [">1.1, <2", "1.2.1", true],
    [">1.1, <3", "4.3.2", false],
    [">=1.1, <2, !=1.2.3", "1.2.3", false],
    [">1.1 <2", "1.1.1", false],
    [">1.1 <2", "1.2.1", true],
    [">1.1    <3", "4.3.2", false],
    [">=1.1    <2    !=1.2.3", "1.2.3", false],
    [">=1.1, <2, !=1.2.3 || > 3", "4.1.2", true],
    [">=1.1, <2, !=1.2.3 || > 3", "3.1.2", false],
    [">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", true],
    [">=1.1, <2, !=1.2.3 || > 3", "3.0.0", false],
    [">=1.1, <2, !=1.2.3 || > 3", "1.2.3", false],
    [">=1.1 <2 !=1.2.3", "1.2.3", false],
    [">=1.1 <2 !=1.2.3 || > 3", "4.1.2", true],
    [">=1.1 <2 !=1.2.3 || > 3", "3.1.2", false],
    [">=1.1 <2 !=1.2.3 || >= 3", "3.0.0", true],
    [">=1.1 <2 !=1.2.3 || > 3", "3.0.0", false],
    [">=1.1 <2 !=1.2.3 || > 3", "1.2.3", false],
    ["> 1.1, <     2", "1.1.1", false],
    [">   1.1, <2", "1.2.1", true],
    [">1.1, <  3", "4.3.2", false],
    [">= 1.1, <     2, !=1.2.3", "1.2.3", false],
    ["> 1.1 < 2", "1.1.1", false],
    [">1.1 < 2", "1.2.1", true],
    ["> 1.1    <3", "4.3.2", false],
    [">=1.1    < 2    != 1.2.3", "1.2.3", false],
    [">= 1.1, <2, !=1.2.3 || > 3", "4.1.2", true],
    [">= 1.1, <2, != 1.2.3 || > 3", "3.1.2", false],
    [">= 1.1, <2, != 1.2.3 || >= 3", "3.0.0", true],
    [">= 1.1, <2, !=1.2.3 || > 3", "3.0.0", false],
    [">= 1.1, <2, !=1.2.3 || > 3", "1.2.3", false],
    [">= 1.1 <2 != 1.2.3", "1.2.3", false],
    [">= 1.1 <2 != 1.2.3 || > 3", "4.1.2", true],
    [">= 1.1 <2 != 1.2.3 || > 3", "3.1.2", false],
    [">= 1.1 <2 != 1.2.3 || >= 3", "3.0.0", true],
    [">= 1.1 < 2 !=1.2.3 || > 3", "3.0.0", false],
    [">=1.1 < 2 !=1.2.3 || > 3", "1.2.3", false],
    [">= 1.0.0  <= 2.0.0-beta", "1.0.1-beta", true],
    [">= 1.0.0  <= 2.0.0-beta", "1.0.1", true],
    [">= 1.0.0  <= 2.0.0-beta", "3.0.0", false],
    [">= 1.0.0  <= 2.0.0-beta || > 3", "1.0.1-beta", true],
    [">= 1.0.0  <= 2.0.0-beta || > 3", "3.0.1-beta", false],
    [">= 1.0.0  <= 2.0.0-beta != 1.0.1 || > 3", "1.0.1-beta", true],
    [">= 1.0.0  <= 2.0.0-beta != 1.0.1-beta || > 3", "1.0.1-beta", false],
    [">= 1.0.0-0  <= 2.0.0", "1.0.1-beta", true],
    ["1.1 - 2", "1.1.1", true],
    ["1.5.0 - 4.5", "3.7.0", true],
    ["1.1-3", "4.3.2", false],
    ["^1.1", "1.1.1", true],
    ["^1.1", "4.3.2", false],
    ["^1.x", "1.1.1", true],
    ["^2.x", "1.1.1", false],
    ["^1.x", "2.1.1", false],
    ["^1.x", "1.1.1-beta1", false],
    ["^1.1.2-alpha", "1.2.1-beta1", true],
    ["^1.2.x-alpha", "1.1.1-beta1", false],
    ["^0.0.1", "0.0.1", true],
    ["^0.0.1", "0.3.1", false],
    ["~*", "2.1.1", true],
    ["~1", "2.1.1", false],
    ["~1", "1.3.5", true],
    ["~1", "1.4", true],
    ["~1.x", "2.1.1", false],
    ["~1.x", "1.3.5", true],
    ["~1.x", "1.4", true],
    ["~1.1", "1.1.1", true],
    ["~1.1", "1.1.1-alpha", false],
    ["~1.1-alpha", "1.1.1-beta", true],
    ["~1.1.1-beta", "1.1.1-alpha", false],
    ["~1.1.1-beta", "1.1.1", true],
    ["~1.2.3", "1.2.5", true],
    ["~1.2.3", "1.2.2", false],
    ["~1.2.3", "1.3.2", false],
    ["~1.1", "1.2.3", false],
    ["~1.3", "2.4.5", false],
    ["1.0.0 - 2.0.0 <=2.0.0", "1.5.0", true],
    ["1.0.0 - 2.0.0, <=2.0.0", "1.5.0", true],
  ] as [string, string, boolean][])("%j satisfied by %j: %s", (range, version, expected) => {
    const parsed = parseConstraintVersion(version);
    expect(parsed).toBeDefined();
    expect(parseSemverRange(range).satisfies(parsed!)).toBe(expected);
  });
});
