// Alphabetical, numerical and filterTags behaviour, in tables from fluxcd/image-reflector-controller
// internal/policy (alphabetical_test.go, numerical_test.go, filter_test.go) and Flux's ImagePolicy docs.
import { describe, expect, test } from "vitest";
import { alphabeticalPolicy } from "../../src/images/policy/alphabetical.js";
import { expandGoTemplate } from "../../src/images/policy/go-regexp.js";
import { createPolicy, evaluatePolicy, PolicyError } from "../../src/images/policy/index.js";
import { numericalPolicy } from "../../src/images/policy/numerical.js";

const ubuntu = ["16.04", "16.04.1", "16.10", "20.04", "20.10"];
const codeNames = ["xenial", "yakkety", "zesty", "artful", "bionic"];
const timestamps = ["1606234201", "1606364286", "1606334092", "1606334284", "1606334201"];

describe("alphabetical policy (Flux's TestAlphabetical_Latest)", () => {
  test.each([
    ["Ubuntu CalVer", undefined, ubuntu, "20.10"],
    ["Ubuntu CalVer descending", "desc", ubuntu, "16.04"],
    ["Ubuntu code names", undefined, codeNames, "zesty"],
    ["Ubuntu code names descending", "desc", codeNames, "artful"],
    ["Timestamps", undefined, timestamps, "1606364286"],
    ["Timestamps desc", "desc", timestamps, "1606234201"],
    ["Timestamps with prefix", undefined, timestamps.map((t) => `rel-${t}`), "rel-1606364286"],
    ["Empty version list", undefined, [], undefined],
    ["byte order: upper case sorts before lower case", "asc", ["a", "B", "Z"], "a"],
  ] as const)("%s", (_label, order, tags, expected) => {
    expect(alphabeticalPolicy(order).latest(tags)).toBe(expected);
  });
});

// Flux shuffles these lists; a fixed reversal and the original order both have to give the same answer.
const both = (list: string[]) => [list, [...list].reverse()];

describe("numerical policy (Flux's TestNumerical_Latest)", () => {
  test.each([
    ["integers ascending", "asc", ["-62", "-88", "73", "72", "15", "16", "15", "29", "-33", "-91"], "73"],
    ["integers descending", "desc", ["5", "-8", "-78", "25", "70", "-4", "80", "92", "-20", "-24"], "-78"],
    [
      "floats ascending",
      "asc",
      [
        "47.40896403322944",
        "-27.8520927455902",
        "-27.930666514224427",
        "-31.352485948094568",
        "-50.41072694704882",
        "-21.962849842263736",
        "24.71884721436865",
        "-39.99177354004344",
        "53.47333823144817",
        "3.2008658570411086",
      ],
      "53.47333823144817",
    ],
    [
      "floats descending",
      "desc",
      [
        "-65.27202780220686",
        "57.82948329142309",
        "22.40184684363291",
        "-86.36934305697784",
        "-90.29082099756083",
        "-12.041712603564264",
        "77.70488240399305",
        "-38.98425003883552",
        "16.06867070412028",
        "53.735674335181216",
      ],
      "-90.29082099756083",
    ],
    ["Unix timestamps ascending", "asc", timestamps, "1606364286"],
    ["Unix timestamps descending", "desc", timestamps, "1606234201"],
    ["single value ascending", "asc", ["1"], "1"],
    ["single value descending", "desc", ["1"], "1"],
  ] as const)("%s", (_label, order, tags, expected) => {
    for (const list of both([...tags])) expect(numericalPolicy(order).latest(list)).toBe(expected);
  });

  test("skips tags that are not numbers, where Flux would fail the policy (documented difference)", () => {
    expect(numericalPolicy("asc").latest(["0", "1a", "b", "latest", "3"])).toBe("3");
    expect(numericalPolicy("asc").latest(["1a", "b"])).toBeUndefined();
    expect(numericalPolicy("asc").latest([])).toBeUndefined();
  });
});

describe("policy choice", () => {
  test("needs exactly one policy", () => {
    expect(() => createPolicy({})).toThrow(PolicyError);
    expect(() => createPolicy({ semver: { range: "1.x" }, numerical: {} })).toThrow(
      "spec.policy must set exactly one of semver, alphabetical, numerical (found semver, numerical)",
    );
  });
});

describe("filterTags (Flux's TestRegexFilter and ImagePolicy docs)", () => {
  test.each([
    ["no pattern keeps every tag", { semver: { range: "*" } }, {}, ["1.0.0", "2.0.0"], "2.0.0"],
    [
      "a pattern keeps the tags it matches",
      { alphabetical: {} },
      { pattern: "^ver" },
      ["ver1", "ver2", "ver3", "rel1"],
      "ver3",
    ],
    [
      "extract with a numbered group orders by the extracted value",
      { numerical: { order: "asc" as const } },
      { pattern: "ver(\\d+)", extract: "$1" },
      ["ver1", "ver2", "ver10", "rel11"],
      "ver10",
    ],
    [
      "the docs' $ts example: main-<sha>-<timestamp>, newest timestamp wins",
      { numerical: { order: "asc" as const } },
      { pattern: "^main-[a-fA-F0-9]+-(?P<ts>.*)", extract: "$ts" },
      [
        "main-9aa0d3b-1606234201",
        "main-a1b2c3d-1606364286",
        "dev-ffffff0-1706364286",
        "main-0000000-1606334092",
      ],
      "main-a1b2c3d-1606364286",
    ],
    [
      "the docs' semver-with-prefix example",
      { semver: { range: ">=1.0.0" } },
      { pattern: "^release-(?P<version>.*)", extract: "${version}" },
      ["release-1.0.0", "release-1.2.0", "1.9.0", "release-1.10.0-rc.1"],
      "release-1.2.0",
    ],
    [
      "a leading (?i) flag matches case-insensitively",
      { alphabetical: {} },
      { pattern: "(?i)^rc-" },
      ["RC-1", "rc-2", "x-9"],
      "rc-2",
    ],
  ])("%s", (_label, choice, filter, tags, expected) => {
    expect(evaluatePolicy(tags, choice, filter).tag).toBe(expected);
  });

  test("an invalid pattern is a policy error naming the pattern", () => {
    expect(() => evaluatePolicy(["a"], { alphabetical: {} }, { pattern: "([" })).toThrow(
      /filterTags.pattern "\(\[" is not a valid regular expression/,
    );
  });

  test.each([
    ["$1", "1"],
    ["${1}x", "1x"],
    ["$1x", ""], // Go reads the longest name: the group "1x", which does not exist
    ["$name-$$", "N-$"],
    ["${name}", "N"],
    ["$", "$"],
  ])("expands %j as Go's Regexp.Expand does", (template, expected) => {
    const match = /(?<name>N)?(\d)/.exec("N1")!;
    // Group 1 is `name`, group 2 the digit: the numbering follows the parentheses, as in Go.
    const numbered = template.replace("$1", "$2").replace("${1}", "${2}");
    expect(expandGoTemplate(numbered, match)).toBe(expected);
  });
});
