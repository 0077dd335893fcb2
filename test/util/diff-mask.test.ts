import { describe, expect, it } from "vitest";
import { maskRemovedValues } from "../../src/util/diff-mask.js";

describe("maskRemovedValues", () => {
  it.each([
    ["-  token: s3cr3t-value", "-  token: *****"],
    ['-  "quoted key": value', '-  "quoted key": *****'],
    ["-  - item-value", "-  - *****"],
    ["-    - name: FOO", "-    - name: *****"],
    ["-    line of a block scalar", "-    *****"],
    ["-  config: |", "-  config: |"],
    ["-  data:", "-  data:"],
    ["-  labels: {}", "-  labels: {}"],
    ["+  token: fork-value", "+  token: fork-value"],
    ["   token: context", "   token: context"],
    ["--- live", "--- live"],
    ["@@ -1,3 +1,3 @@", "@@ -1,3 +1,3 @@"],
    ["-", "-"],
  ])("%s → %s", (line, masked) => {
    expect(maskRemovedValues(line)).toBe(masked);
  });

  it("keeps the shape of a whole diff", () => {
    const diff = [
      "--- a",
      "+++ b",
      "@@ -1,4 +1,4 @@",
      " data:",
      "-  token: abc123",
      "+  token: x",
      "   color: blue",
    ].join("\n");
    expect(maskRemovedValues(diff)).toBe(
      [
        "--- a",
        "+++ b",
        "@@ -1,4 +1,4 @@",
        " data:",
        "-  token: *****",
        "+  token: x",
        "   color: blue",
      ].join("\n"),
    );
  });
});
