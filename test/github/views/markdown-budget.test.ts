import { describe, expect, it } from "vitest";
import { fitBlocks } from "../../../src/github/views/markdown-budget.js";

describe("fitBlocks", () => {
  const note = (s: number, o: number) => `NOTE ${s} shortened ${o} omitted`;

  it("keeps everything that fits, in order, without a note", () => {
    expect(fitBlocks([{ text: "a" }, { text: "b" }], 1000, note)).toBe("a\nb");
  });

  it("shortens large blocks to their fallback and says so, staying within the limit", () => {
    const blocks = Array.from({ length: 50 }, (_, i) => ({
      text: `${i}:${"x".repeat(3000)}`,
      fallback: `${i}: (cut)`,
    }));
    const out = fitBlocks(blocks, 65_536, note);
    expect(out.length).toBeLessThanOrEqual(65_536);
    expect(out).toMatch(/NOTE \d+ shortened 0 omitted$/);
    for (let i = 0; i < 50; i++) expect(out).toContain(`\n${i}:`.slice(i === 0 ? 1 : 0));
  });

  it("omits blocks that fit in no form, and counts them", () => {
    const out = fitBlocks([{ text: "keep" }, { text: "y".repeat(5000) }], 1000, note);
    expect(out).toBe("keep\nNOTE 0 shortened 1 omitted");
  });
});
