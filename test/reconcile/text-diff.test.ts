import { describe, expect, it } from "vitest";
import { unifiedDiff } from "../../src/reconcile/text-diff.js";

describe("unified diff", () => {
  it("is empty for equal texts", () => {
    expect(unifiedDiff("a\nb\n", "a\nb\n")).toBe("");
  });

  it("shows a changed line with context", () => {
    const before = ["a", "b", "c", "d", "e", "f", "g", "h"].join("\n");
    const after = ["a", "b", "c", "d", "E", "f", "g", "h"].join("\n");
    expect(unifiedDiff(before, after)).toBe("@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n");
  });

  it("shows a whole new text as additions", () => {
    expect(unifiedDiff("", "x: 1\n")).toBe("@@ -0,0 +1,1 @@\n+x: 1\n");
  });

  it("splits distant changes into separate hunks", () => {
    const before = Array.from({ length: 30 }, (_, i) => `line ${i}`).join("\n");
    const after = before.replace("line 2\n", "line two\n").replace("line 27", "line twenty-seven");
    const diff = unifiedDiff(before, after);
    expect(diff.match(/^@@/gm)).toHaveLength(2);
  });
});
