// Secret values out of text that leaves the engine (diffs, error messages, helm stderr, API error bodies, logs,
// statuses, comments). Exact substrings are not enough: the same value comes back JSON- or YAML-escaped,
// Go-quoted (%q), base64-encoded (alone or inside a larger base64 blob), URL-encoded, folded across lines by a
// YAML writer or line-wrapped by base64 -w, and a multi-line value (a PEM key, a kubeconfig) shows up one line at
// a time. Every one of those forms of every value (and of each of its lines) is masked.

export const SECRET_MASK = "*****";

/** Values (and lines of values) shorter than this are left alone: "true", "1" or "ok" would mask half a diff. */
export const MIN_SECRET_LENGTH = 4;

/** A base64 fragment of a value inside a larger blob must be this long to be masked (shorter ones match noise). */
const MIN_BASE64_FRAGMENT = 8;

/** Masks every known form of every secret in `text`. */
export function scrubSecrets(text: string, secrets: Iterable<string>): string {
  return secretScrubber(secrets)(text);
}

/**
 * A function that masks every known form of `secrets`, with the forms worked out once: for a logger or a
 * reporter that scrubs many texts against the same values.
 */
export function secretScrubber(secrets: Iterable<string>): (text: string) => string {
  const forms = new Set<string>();
  for (const secret of secrets) for (const form of secretForms(secret)) forms.add(form);
  if (forms.size === 0) return (text) => text;
  const index = pieceIndex(forms);
  // Longest first: where forms overlap (base64 with and without padding, a whole value and its first line),
  // the longest is masked whole. Exact occurrences first (fast); then, only for forms some piece of which is
  // still there, the slower match that lets a line break fall between any two characters.
  const byLength = (a: string, b: string) => b.length - a.length;
  return (text) => {
    if (text.length < MIN_SECRET_LENGTH) return text;
    const candidates = [...candidateForms(text, index)];
    if (candidates.length === 0) return text;
    let out = text;
    for (const form of candidates.sort(byLength)) out = out.split(form).join(SECRET_MASK);
    if (!out.includes("\n")) return out;
    for (const form of [...candidateForms(out, index)].sort(byLength)) {
      out = out.replace(foldTolerant(form), SECRET_MASK);
    }
    return out;
  };
}

/**
 * The forms of one value as text may carry it, longest first. Exported for tests and for code that wants to
 * check a text is clean (`secretForms(v).some((f) => text.includes(f))`).
 */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>();
  for (const value of secretPieces(secret)) {
    for (const form of textForms(value)) forms.add(form);
    for (const form of base64Forms(value)) forms.add(form);
  }
  return [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

// The forms that may occur in a text. Matching every form with line breaks allowed between any two characters
// is slow for hundreds of forms over a large diff, so first look for unbroken pieces of each form: a writer
// breaks lines at most every ~20 characters, so a form that is there keeps at least one of its pieces whole.
// One scan per piece length finds them all, overlapping ones included.
interface PieceIndex {
  formsByPiece: Map<string, string[]>;
  scans: RegExp[];
}

function pieceIndex(forms: Set<string>): PieceIndex {
  const formsByPiece = new Map<string, string[]>();
  for (const form of forms) {
    for (const piece of piecesOf(form)) {
      const list = formsByPiece.get(piece);
      if (list) list.push(form);
      else formsByPiece.set(piece, [form]);
    }
  }
  const scans: RegExp[] = [];
  for (const length of [SHORT_PIECE, LONG_PIECE]) {
    const pieces = [...formsByPiece.keys()].filter((p) => p.length === length);
    if (pieces.length > 0) scans.push(new RegExp(pieces.map(escapeRegExp).join("|"), "g"));
  }
  return { formsByPiece, scans };
}

function candidateForms(text: string, index: PieceIndex): Set<string> {
  const seen = new Set<string>();
  for (const scan of index.scans) {
    scan.lastIndex = 0;
    for (let m = scan.exec(text); m; m = scan.exec(text)) {
      seen.add(m[0]);
      scan.lastIndex = m.index + 1;
    }
  }
  const found = new Set<string>();
  for (const piece of seen) for (const form of index.formsByPiece.get(piece) ?? []) found.add(form);
  return found;
}

const SHORT_PIECE = 4;
const LONG_PIECE = 8;

// Pieces of one length covering the form: every `length` characters, and its end.
function piecesOf(form: string): string[] {
  const length = form.length < 2 * LONG_PIECE ? SHORT_PIECE : LONG_PIECE;
  const pieces = new Set<string>();
  for (let i = 0; i + length <= form.length; i += length) pieces.add(form.slice(i, i + length));
  pieces.add(form.slice(-length));
  return [...pieces];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

// The value itself and, for a multi-line value, each of its lines (as is and trimmed) long enough to mask.
function secretPieces(secret: string): string[] {
  const pieces = new Set<string>();
  if (secret.length >= MIN_SECRET_LENGTH) pieces.add(secret);
  const trimmed = secret.trim();
  if (trimmed.length >= MIN_SECRET_LENGTH) pieces.add(trimmed);
  if (/[\r\n]/.test(secret)) {
    for (const line of secret.split(/\r?\n|\r/)) {
      if (line.length >= MIN_SECRET_LENGTH) pieces.add(line);
      const t = line.trim();
      if (t.length >= MIN_SECRET_LENGTH) pieces.add(t);
    }
  }
  return [...pieces];
}

// Escaped and quoted spellings of one value.
function textForms(value: string): string[] {
  const json = jsonEscape(value);
  const forms = [
    value,
    json,
    // JSON inside a JSON string (a last-applied annotation in a JSON log line, a JSON error body in a message).
    jsonEscape(json),
    // Go's encoding/json escapes <, > and & as well; Python's json.dumps escapes every non-ASCII character.
    json.replace(/[<>&]/g, (c) => unicodeEscape(c.charCodeAt(0))),
    asciiOnly(json),
    goQuote(value, false),
    goQuote(value, true),
    yamlDoubleQuote(value),
    // YAML single-quoted, and a shell single-quoted word ('it'\''s').
    value.replace(/'/g, "''"),
    value.replace(/'/g, "'\\''"),
  ];
  // encodeURIComponent; RFC 3986 (Go's url.QueryEscape) also escapes !'()*; WHATWG form encoding (URLSearchParams)
  // escapes ~ too but keeps *. Each with spaces as %20 and as +, and with lower-case hex as some encoders write it.
  const component = encodeURIComponent(value);
  const rfc3986 = component.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const whatwg = rfc3986.replace(/~/g, "%7E").replace(/%2A/g, "*");
  for (const url of [component, rfc3986, whatwg, safeEncodeUri(value)]) {
    for (const u of [url, url.replace(/%20/g, "+")])
      forms.push(
        u,
        u.replace(/%[0-9A-F]{2}/g, (p) => p.toLowerCase()),
      );
  }
  return forms;
}

/** JSON string content without the quotes: `\"`, `\\`, `\n`, `\u0001`, … */
function jsonEscape(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

function unicodeEscape(code: number): string {
  return `\\u${code.toString(16).padStart(4, "0")}`;
}

function asciiOnly(escaped: string): string {
  return escaped.replace(/[\u0080-\uffff]/g, (c) => unicodeEscape(c.charCodeAt(0)));
}

function safeEncodeUri(value: string): string {
  try {
    return encodeURI(value);
  } catch {
    return value; // a lone surrogate: no URL can carry it
  }
}

const goShortEscapes: Record<string, string> = {
  "\x07": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
  '"': '\\"',
  "\\": "\\\\",
};

// Go's strconv.Quote (fmt %q) without the quotes; `ascii` is %+q (strconv.QuoteToASCII).
function goQuote(value: string, ascii: boolean): string {
  let out = "";
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    const short = goShortEscapes[ch];
    if (short) out += short;
    else if (code < 0x80 ? code >= 0x20 && code < 0x7f : !ascii && /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch))
      out += ch;
    else if (code < 0x80) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else if (code < 0x10000) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += `\\U${code.toString(16).padStart(8, "0")}`;
  }
  return out;
}

const yamlShortEscapes: Record<string, string> = {
  "\0": "\\0",
  "\x07": "\\a",
  "\b": "\\b",
  "\x1b": "\\e",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
  "\u0085": "\\N",
  "\u00a0": "\\_",
  "\u2028": "\\L",
  "\u2029": "\\P",
  '"': '\\"',
  "\\": "\\\\",
};

// A YAML double-quoted scalar's content, as the yaml package writes it (before line folding, which the patterns
// tolerate).
function yamlDoubleQuote(value: string): string {
  let out = "";
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    const short = yamlShortEscapes[ch];
    if (short) out += short;
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out;
}

// The base64 of a value, standard and URL-safe, with and without padding; and the fragments that appear when
// the value sits inside a larger encoded blob (at each of the three byte alignments), without the characters
// that also depend on the neighbouring bytes.
function base64Forms(value: string): string[] {
  const bytes = Buffer.from(value, "utf8");
  const forms: string[] = [];
  const whole = bytes.toString("base64");
  forms.push(whole, whole.replace(/=+$/, ""));
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
    const totalBits = (offset + bytes.length) * 8;
    const fragment = encoded.slice(Math.ceil((offset * 8) / 6), Math.floor(totalBits / 6));
    if (fragment.length >= MIN_BASE64_FRAGMENT) forms.push(fragment);
  }
  return forms.flatMap((f) => [f, f.replace(/\+/g, "-").replace(/\//g, "_")]);
}

// Between any two characters a writer may have broken the line: YAML folds double-quoted scalars with a
// trailing `\` and long plain or folded scalars at a space; `base64 -w 76` wraps; a unified diff prefixes the
// next line with `+`, `-` or a space; the indentation follows. A space may also become such a line break.
const fold = String.raw`\\?\r?\n[-+ ]?[ \t]*\\?`;

function foldTolerant(form: string): RegExp {
  const parts: string[] = [];
  for (const ch of form) parts.push(ch === " " ? `(?: |${fold})` : escapeRegExp(ch));
  return new RegExp(parts.join(`(?:${fold})?`), "gu");
}

/**
 * Whether an object key names a credential (token, password, private key, secret, authorization, cookie,
 * API key, …): its value is never logged. Case, `-` and `_` do not matter (`X-Api-Key`, `private_key`).
 */
export function isSecretKeyName(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_\s.]/g, "");
  return (
    CREDENTIAL_KEYS.has(k) ||
    k.endsWith("token") ||
    k.endsWith("password") ||
    k.endsWith("secret") ||
    k.endsWith("privatekey") ||
    k.endsWith("apikey")
  );
}

const CREDENTIAL_KEYS = new Set([
  "authorization",
  "proxyauthorization",
  "cookie",
  "setcookie",
  "passwd",
  "passphrase",
  "credentials",
  "stringdata",
  "identity",
  "sshkey",
  "xhubsignature",
  "xhubsignature256",
]);

const PEM_PRIVATE_KEY =
  /(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)(?:[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----)|[\s\S]*$)/g;
const GITHUB_TOKEN = /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g;
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;
const AUTH_SCHEME = /\b(Bearer|Basic)(\s+)([A-Za-z0-9._~+/=-]{12,})/g;
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/"'<>]*):([^\s@/"'<>]+)@/gi;
const ALREADY_MASKED = /^(?:\*{5}|\[redacted\])$/;
const JSON_STRING_FIELD = /"([A-Za-z0-9_.-]{2,64})"(\s*:\s*)"((?:[^"\\]|\\.)*)"/g;
const JSON_MAP_FIELD = /"(data|stringData)"(\s*:\s*)\{[^{}]*\}/g;
const TEXT_FIELD =
  /\b([A-Za-z][A-Za-z0-9_-]{1,63})([ \t]*[:=][ \t]*)("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|(?![*\s])[^\s"',;&}\]]+)/g;

/**
 * Masks credentials recognisable by their shape, whoever's they are: private key blocks, GitHub tokens, JWTs
 * (the app's JWT, ServiceAccount tokens), `Bearer`/`Basic` values and passwords in URLs.
 */
export function scrubCredentialShapes(text: string): string {
  if (text.length < MIN_SECRET_LENGTH) return text;
  return text
    .replace(PEM_PRIVATE_KEY, (_m, begin: string, end?: string) => `${begin}${SECRET_MASK}${end ?? ""}`)
    .replace(GITHUB_TOKEN, SECRET_MASK)
    .replace(JWT, SECRET_MASK)
    .replace(AUTH_SCHEME, (m, scheme: string, space: string, value: string) =>
      // "Basic authentication" is prose; a credential has digits, symbols or mixed case.
      /[0-9=+/_.~-]/.test(value) || (/[a-z]/.test(value) && /[A-Z]/.test(value))
        ? `${scheme}${space}${SECRET_MASK}`
        : m,
    )
    .replace(URL_USERINFO, (_m, scheme: string, user: string) => `${scheme}${user}:${SECRET_MASK}@`);
}

/**
 * scrubCredentialShapes, and the values of credential fields in JSON or plain text (`"token": "…"`,
 * `password=…`, `secret: '…'`, a Secret's `"data": {…}`). For text whose secrets are not known in advance: API
 * error bodies, helm's stderr, log messages.
 */
export function scrubCredentials(text: string): string {
  if (text.length < MIN_SECRET_LENGTH) return text;
  let out = scrubCredentialShapes(text)
    .replace(JSON_STRING_FIELD, (m, key: string, colon: string, value: string) =>
      isSecretKeyName(key) && !ALREADY_MASKED.test(value) ? `"${key}"${colon}"${SECRET_MASK}"` : m,
    )
    .replace(TEXT_FIELD, (m, key: string, sep: string, value: string) => {
      if (!isSecretKeyName(key)) return m;
      const quote = value[0] === '"' || value[0] === "'" ? value[0] : "";
      return `${key}${sep}${quote}${SECRET_MASK}${quote}`;
    });
  const secretObject = /"kind"\s*:\s*"Secret"/.test(out);
  if (secretObject || out.includes('"stringData"')) {
    out = out.replace(JSON_MAP_FIELD, (m, key: string, colon: string) =>
      key === "stringData" || secretObject ? `"${key}"${colon}"${SECRET_MASK}"` : m,
    );
  }
  return out;
}
