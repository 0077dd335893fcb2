// YAML files read as UTF-8 only. Go's YAML (what kustomize parses with) decodes a file by its byte-order mark,
// UTF-16 too, so a UTF-16 text it reads as aliases reads as no `*` at all when decoded as UTF-8 here and would
// escape the alias bound. A file that is not valid UTF-8, or holds a NUL byte (UTF-16 or UTF-32 without a mark),
// is refused before anything is read from it. A UTF-8 byte-order mark stays accepted (and in the text).
import { readFileSync } from "node:fs";
import { ManifestError, type ManifestLocation } from "../flux/errors.js";

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The text of `file`, refused at `where` when its bytes are not UTF-8 text (invalid UTF-8 or a NUL byte). */
export function readUtf8Yaml(file: string, where: ManifestLocation): string {
  const bytes = readFileSync(file);
  let text: string | undefined;
  try {
    text = bytes.includes(0) ? undefined : UTF8.decode(bytes);
  } catch {
    text = undefined;
  }
  if (text !== undefined) return text;
  throw new ManifestError(
    where,
    "is not UTF-8 text (a UTF-16 or UTF-32 file, or NUL bytes); save it as UTF-8",
  );
}
