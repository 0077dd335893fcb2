import { describe, expect, test } from "vitest";
import { stringify } from "yaml";
import { unifiedDiff } from "../../src/reconcile/text-diff.js";
import { SECRET_MASK, scrubSecrets } from "../../src/util/secret-scrub.js";

// A multi-line value with every character an encoder treats specially: quotes, a backslash, <>&, non-ASCII,
// a tab, a control character, and a line of its own.
const SECRET = "s3cr3t 'single' \"quoted\" \\ back <tag> & wörd ✓\nsecond-line-xyz\tend\x01";
// A single-line token, for encodings where the value sits inside something larger.
const TOKEN = "ghp_Q8vR2mTz7KxW4nYb9LcD3sFh6JpA1eGu";
// Words of the values that survive every encoding that does not hide them (letters, digits, dashes).
const TELLS = ["s3cr3t", "single", "quoted", "second-line", "line-xyz", "ghp_Q8vR", "Q8vR2mTz", "A1eGu"];

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const b64url = (s: string) => Buffer.from(s, "utf8").toString("base64url");

/** Everything a reader could recover from `text`: the text, its URL-decoding and the decoding of base64 runs. */
function readable(text: string): string {
  const views = [text];
  try {
    views.push(decodeURIComponent(text.replace(/\+/g, " ")));
  } catch {
    // not URL-encoded as a whole
  }
  const unwrapped = text.replace(/\n[ +-]*/g, "");
  for (const run of unwrapped.match(/[A-Za-z0-9+/_-]{8,}={0,2}/g) ?? []) {
    for (let shift = 0; shift < 4; shift++) {
      views.push(Buffer.from(run.slice(shift), "base64").toString("latin1"));
      views.push(Buffer.from(run.slice(shift), "base64").toString("utf8"));
    }
  }
  return views.join("\n");
}

function leaks(text: string): string[] {
  const all = readable(text);
  return TELLS.filter((t) => all.includes(t));
}

function wrap(text: string, width: number, indent = ""): string {
  return (text.match(new RegExp(`.{1,${width}}`, "g")) ?? []).map((l) => indent + l).join("\n");
}

const LONG = `correct horse battery staple ${TOKEN} and more words to make a line that yaml folds`;

describe("scrubSecrets", () => {
  test.each<[string, string, string]>([
    ["the value as is", SECRET, `before ${SECRET} after`],
    ["a YAML block scalar (each line on its own, indented)", SECRET, stringify({ data: { k: SECRET } })],
    [
      "its second line alone, in an error message",
      SECRET,
      `invalid value ${JSON.stringify(SECRET.split("\n")[1])}: rejected`,
    ],
    ["JSON", SECRET, JSON.stringify({ message: SECRET })],
    ["JSON inside a JSON string", SECRET, JSON.stringify({ log: JSON.stringify({ message: SECRET }) })],
    [
      "Go encoding/json (<, >, & as \\u escapes)",
      SECRET,
      String.raw`{"k":"s3cr3t 'single' \"quoted\" \\ back \u003ctag\u003e \u0026 wörd ✓\nsecond-line-xyz\tend\u0001"}`,
    ],
    [
      "ASCII-only JSON (Python json.dumps)",
      SECRET,
      JSON.stringify(SECRET).replace(
        /[\u0080-\uffff]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
      ),
    ],
    [
      "Go %q",
      SECRET,
      String.raw`secret "s3cr3t 'single' \"quoted\" \\ back <tag> & wörd ✓\nsecond-line-xyz\tend\x01" rejected`,
    ],
    [
      "Go %+q",
      SECRET,
      String.raw`"s3cr3t 'single' \"quoted\" \\ back <tag> & w\u00f6rd \u2713\nsecond-line-xyz\tend\x01"`,
    ],
    ["YAML double-quoted", SECRET, stringify({ k: SECRET }, { defaultStringType: "QUOTE_DOUBLE" })],
    [
      "YAML single-quoted",
      SECRET,
      stringify({ k: SECRET.split("\n")[0] }, { defaultStringType: "QUOTE_SINGLE" }),
    ],
    ["YAML plain scalar folded at a space", LONG, stringify({ k: LONG }, { lineWidth: 40 })],
    [
      "YAML double-quoted, folded",
      LONG,
      stringify({ k: LONG }, { defaultStringType: "QUOTE_DOUBLE", lineWidth: 40 }),
    ],
    [
      "YAML double-quoted, broken mid-word with a backslash",
      TOKEN.repeat(3),
      stringify({ k: TOKEN.repeat(3) }, { defaultStringType: "QUOTE_DOUBLE", lineWidth: 40 }),
    ],
    [
      "YAML folded block scalar",
      LONG,
      stringify({ k: LONG }, { defaultStringType: "BLOCK_FOLDED", lineWidth: 40 }),
    ],
    [
      "a unified diff of folded YAML (+ on every line)",
      LONG,
      unifiedDiff("", stringify({ k: LONG }, { defaultStringType: "QUOTE_DOUBLE", lineWidth: 40 })),
    ],
    ["base64", SECRET, `data: ${b64(SECRET)}`],
    ["base64 without padding", SECRET, `data: ${b64(SECRET).replace(/=+$/, "")}.`],
    ["URL-safe base64", SECRET, `token=${b64url(SECRET)}`],
    ["the base64 of one line", SECRET, `line: ${b64("second-line-xyz\tend\x01")}`],
    ["a Secret's data in YAML", SECRET, stringify({ kind: "Secret", data: { k: b64(SECRET) } })],
    ["inside a larger base64 blob, offset 0", TOKEN, b64(`${TOKEN} is the token of this kubeconfig`)],
    ["inside a larger base64 blob, offset 1", TOKEN, b64(`x${TOKEN} is the token of this kubeconfig`)],
    ["inside a larger base64 blob, offset 2", TOKEN, b64(`xy${TOKEN} is the token of this kubeconfig`)],
    [
      "inside a larger URL-safe base64 blob",
      TOKEN,
      b64url(`{"auths":{"r.example.com":{"password":"${TOKEN}"}}}`),
    ],
    [
      "base64 wrapped at 76 columns and indented (base64 -w 76 in a YAML block)",
      TOKEN,
      `config: |\n${wrap(b64(`apiVersion: v1\nusers:\n- name: u\n  user:\n    token: ${TOKEN}\n`.repeat(2)), 76, "  ")}`,
    ],
    ["URL-encoded", SECRET, `https://example.com/?q=${encodeURIComponent(SECRET)}&x=1`],
    ["form-encoded", SECRET, new URLSearchParams({ q: SECRET }).toString()],
    [
      "URL-encoded with lower-case hex",
      SECRET,
      encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (p) => p.toLowerCase()),
    ],
    [
      "credentials in a URL",
      TOKEN,
      `git clone https://x-access-token:${encodeURIComponent(TOKEN)}@github.com/o/r`,
    ],
    [
      "a shell single-quoted word",
      SECRET,
      `sh -c 'echo '${`'${SECRET.split("\n")[0]?.replace(/'/g, "'\\''")}'`}`,
    ],
  ])("masks %s", (_form, secret, text) => {
    expect(leaks(text)).not.toEqual([]); // the row really carries the value
    const out = scrubSecrets(text, [secret]);
    expect(leaks(out)).toEqual([]);
    expect(out).toContain(SECRET_MASK);
  });

  test("keeps the text around a masked value, and masks base64 with its padding", () => {
    expect(scrubSecrets(`a ${b64("hunter22")} b`, ["hunter22"])).toBe(`a ${SECRET_MASK} b`);
    expect(scrubSecrets(`before ${SECRET} after`, [SECRET])).toBe(`before ${SECRET_MASK} after`);
  });

  test("leaves values (and lines of values) shorter than 4 characters alone", () => {
    expect(scrubSecrets("abc true no", ["abc", "no"])).toBe("abc true no");
    expect(scrubSecrets("ok\nlonger-line", ["ok\nlonger-line"])).toBe(SECRET_MASK);
    expect(scrubSecrets("ok fine", ["ok\nlonger-line"])).toBe("ok fine");
  });

  test("is quick on a large text with many secrets", () => {
    const secrets = Array.from({ length: 50 }, (_, i) => `value-${i}-${TOKEN}\nline-${i}-${TOKEN}`);
    const text =
      `+ key: ${b64(secrets[3] ?? "")}\n+ other: ${JSON.stringify(secrets[7])}\n  plain text line\n`.repeat(
        10_000,
      );
    const started = Date.now();
    const out = scrubSecrets(text, secrets);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(out).not.toContain(TOKEN);
    expect(out).toContain("plain text line");
  });
});
