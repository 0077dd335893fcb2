// Line breaks two YAML readers disagree on. Go's YAML (what kustomize parses kustomization and plugin files
// with) breaks lines at a lone CR, NEL (U+0085), LINE SEPARATOR (U+2028) and PARAGRAPH SEPARATOR (U+2029); the
// `yaml` package we check with (YAML 1.2) does not, so a text we read as one comment can be several live
// fields to kustomize. Such a file is refused before anything else is read from it.
import { ManifestError, type ManifestLocation } from "../flux/errors.js";

const FOREIGN_BREAK = /\r(?!\n)|[\u0085\u2028\u2029]/;

const NAMES: Record<string, string> = {
  "\r": "a carriage return not followed by a line feed",
  "\u0085": "NEL (U+0085)",
  "\u2028": "LINE SEPARATOR (U+2028)",
  "\u2029": "PARAGRAPH SEPARATOR (U+2029)",
};

/** Throws at `where` when `text` holds a line break only some YAML readers see; returns `text`. */
export function refuseForeignLineBreaks(text: string, where: ManifestLocation): string {
  const match = FOREIGN_BREAK.exec(text);
  if (!match) return text;
  const line = text.slice(0, match.index).split("\n").length;
  throw new ManifestError(
    where,
    `line ${line} holds ${NAMES[match[0]] ?? "a line break"}, which kustomize reads as a line break and other YAML readers do not; refused (use plain line feeds)`,
  );
}
