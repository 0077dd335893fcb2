// Names from pushes shown as inline code: nothing inside can close the span (a branch may hold backticks).
import { describe, expect, it } from "vitest";
import { codeSpan } from "../../../src/github/views/code-span.js";

describe("codeSpan", () => {
  it.each([
    ["main", "`main`"],
    ["a`b", "``a`b``"],
    ["x``](https://evil.example)![y", "```x``](https://evil.example)![y```"],
    ["`start", "`` `start ``"],
    ["end`", "`` end` ``"],
    ["two\nlines", "`two lines`"],
  ])("%j → %j", (text, expected) => {
    expect(codeSpan(text)).toBe(expected);
  });

  it("no run of backticks inside is as long as the fence", () => {
    for (const text of ["`", "``", "a```b", "````"]) {
      const span = codeSpan(text);
      const fence = /^`+/.exec(span)?.[0] ?? "";
      const inner = span.slice(fence.length, span.length - fence.length);
      expect(Math.max(...[...inner.matchAll(/`+/g)].map((m) => m[0].length))).toBeLessThan(fence.length);
    }
  });
});
