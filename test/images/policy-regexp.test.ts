// filterTags.pattern and exclusionList are Go regular expressions (RE2), compiled with re2js: Go's syntax and
// linear-time matching, so a pattern from a repository cannot stall the bot.
import { describe, expect, test } from "vitest";
import { parseManifests } from "../../src/flux/manifests.js";
import { compileGoRegexp } from "../../src/images/policy/go-regexp.js";
import { evaluatePolicy, PolicyError } from "../../src/images/policy/index.js";
import { readImageAutomationObjects } from "../../src/images/resources.js";

const evil = `${"a".repeat(32)}!`;
const manyTags = (count: number) =>
  Array.from({ length: count }, (_, i) => `${"a".repeat(20 + (i % 12))}-${i}`);

describe("linear-time matching", () => {
  test("filterTags ^(a+)+$ against 32 a's and a '!' among thousands of tags ends at once", () => {
    const tags = [...manyTags(3000), evil, "a".repeat(40)];
    const started = performance.now();
    const result = evaluatePolicy(tags, { alphabetical: {} }, { pattern: "^(a+)+$" });
    const elapsed = performance.now() - started;
    expect(result.tag).toBe("a".repeat(40));
    expect(result.candidates).toBe(1);
    expect(elapsed).toBeLessThan(2000);
  });

  test.each(["^(a+)+$", "^(a|a)*$", "^(a|aa)+$", "(.*a){20}$", "^([a-z]+)*[0-9]$"])(
    "%s as an exclusion pattern stays linear",
    (pattern) => {
      const exclusion = compileGoRegexp(pattern, "exclusion pattern");
      const started = performance.now();
      for (let i = 0; i < 200; i++) exclusion.test(`${"a".repeat(64)}!`);
      expect(performance.now() - started).toBeLessThan(2000);
    },
  );
});

describe("Go syntax, as Flux reads it", () => {
  test.each([
    // [pattern, tag, matches]
    ["^v(?P<major>\\d+)", "v12", true],
    ["(?i)^RC-", "rc-1", true],
    ["^a(?i)B$", "ab", true],
    ["^a(?i)B$", "Ab", false],
    ["^[[:digit:]]+\\z", "123", true],
    ["^\\pL+$", "héllo", true],
    ["^\\p{Greek}+$", "αβγ", true],
    ["^.*\\.sig$", "sha256-abc.sig", true],
    ["^.*\\.sig$", "1.0.0", false],
    ["\\Qa.b\\E", "a.b", true],
    ["\\Qa.b\\E", "axb", false],
  ])("%s on %s → %s", (pattern, tag, matches) => {
    expect(compileGoRegexp(pattern, "filterTags.pattern").test(tag)).toBe(matches);
  });

  test.each([
    ["(a)\\1", "backreferences"],
    ["a(?=b)", "lookahead"],
    ["(?<!a)b", "lookbehind"],
    ["a{1001}", "repeat counts over 1000"],
    ["((a{100}){100}){100}", "nested repeats too large"],
    ["([", "unclosed groups"],
  ])("%s is invalid, as in Go (%s)", (pattern) => {
    expect(() => compileGoRegexp(pattern, "filterTags.pattern")).toThrow(PolicyError);
    expect(() => compileGoRegexp(pattern, "filterTags.pattern")).toThrow(
      `filterTags.pattern "${pattern}" is not a valid regular expression: error parsing regexp:`,
    );
  });

  test("a pattern longer than the cap is refused", () => {
    expect(() => compileGoRegexp("a".repeat(5000), "exclusion pattern")).toThrow(
      "exclusion pattern is longer than 4096 characters",
    );
  });

  test.each([
    ["^main-[a-f0-9]+-(?P<ts>[0-9]+)", "$ts"],
    ["^main-[a-f0-9]+-(?<ts>[0-9]+)", "${ts}"],
    ["^main-[a-f0-9]+-([0-9]+)", "$1"],
  ])("extract with %s and %s orders by the captured value", (pattern, extract) => {
    const tags = ["main-abc123-1606364286", "main-def456-1606234201", "main-fff000-999", "other-1"];
    const result = evaluatePolicy(tags, { numerical: { order: "asc" } }, { pattern, extract });
    expect(result).toEqual({ tag: "main-abc123-1606364286", value: "1606364286", candidates: 3 });
  });

  test("an unmatched optional group expands to nothing", () => {
    const result = evaluatePolicy(
      ["rel-1", "rel-2-x"],
      { alphabetical: {} },
      {
        pattern: "^rel-(?P<n>\\d)(?:-(?P<suffix>x))?$",
        extract: "$n$suffix",
      },
    );
    expect(result.value).toBe("2x");
  });
});

describe("invalid patterns in a repository", () => {
  const manifest = (spec: string) => `apiVersion: image.toolkit.fluxcd.io/v1beta2
${spec}`;

  test("filterTags.pattern: the error names file, object and field", () => {
    const objects = parseManifests(
      manifest(`kind: ImagePolicy
metadata:
  name: app
  namespace: team-a
spec:
  imageRepositoryRef:
    name: app
  policy:
    alphabetical: {}
  filterTags:
    pattern: "^(?=v)"
`),
      "clusters/dev/policy.yaml",
    );
    expect(() => readImageAutomationObjects(objects)).toThrow(
      'clusters/dev/policy.yaml: ImagePolicy/team-a/app: spec.filterTags.pattern: filterTags.pattern "^(?=v)" is not a valid regular expression: error parsing regexp: invalid or unsupported Perl syntax: `(?=`',
    );
  });

  test("exclusionList: the error names the entry", () => {
    const objects = parseManifests(
      manifest(`kind: ImageRepository
metadata:
  name: app
  namespace: team-a
spec:
  image: ghcr.io/acme/app
  interval: 5m
  exclusionList: ["^.*\\\\.sig$", "(a)\\\\1"]
`),
      "clusters/dev/repo.yaml",
    );
    expect(() => readImageAutomationObjects(objects)).toThrow(
      /^clusters\/dev\/repo\.yaml: ImageRepository\/team-a\/app: spec\.exclusionList\[1\]: exclusion pattern "\(a\)\\1" is not a valid regular expression: error parsing regexp: invalid escape sequence/,
    );
  });
});
