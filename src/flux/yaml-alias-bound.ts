// The bound on YAML aliases in repository text that kustomize (or helm's post-renderer, which is kustomize) will
// parse: a "billion laughs" file is refused, naming where it is, before any program expands it.
import { parseAllDocuments } from "yaml";
import { ManifestError, type ManifestLocation } from "./errors.js";

/** The most alias expansions a YAML file kustomize reads may have (the `yaml` package's own measure). */
export const maxYamlAliasCount = 100;

/** Every document of a YAML text, alias-bounded; throws a ManifestError at `where` when it cannot be read. */
export function parseBoundedDocuments(text: string, where: ManifestLocation): unknown[] {
  const docs = parseAllDocuments(text);
  const out: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : []) {
    const [error] = doc.errors;
    if (error) throw new ManifestError(where, `invalid YAML: ${error.message.split("\n")[0]}`);
    try {
      out.push(doc.toJS({ maxAliasCount: maxYamlAliasCount }));
    } catch (err) {
      throw new ManifestError(
        where,
        `YAML aliases expand too far (${(err as Error).message.split("\n")[0]}); refused before kustomize runs`,
        { cause: err },
      );
    }
  }
  return out;
}

/**
 * Texts with at most this many `*` cannot expand past maxYamlAliasCount: 6 for 100. The yaml library counts, per
 * anchor, 1 plus the aliases to it, and refuses a document when that count times the expansion of the aliases
 * inside the anchor exceeds its bound; along a chain of nested anchors the factors are 1 + r for distinct alias
 * sets of sizes r, and 1 + r ≤ 2^r, so n aliases expand at most 2^n (a chain of single references reaches it).
 */
export const boundedAliasTokens = Math.floor(Math.log2(maxYamlAliasCount));

function countStars(text: string): number {
  let n = 0;
  for (let i = text.indexOf("*"); i !== -1 && n <= boundedAliasTokens; i = text.indexOf("*", i + 1)) n++;
  return n;
}

/**
 * The alias bound on YAML that kustomize will parse. Every alias is written with a `*`, so a text with few of them
 * (none, or up to boundedAliasTokens: a cron schedule, a glob, a label set reused) cannot expand too far and is not
 * parsed here; resources are parsed once, by kustomize, which reports their syntax errors in its own words.
 */
export function assertBoundedYaml(text: string, where: ManifestLocation): void {
  if (countStars(text) > boundedAliasTokens) parseBoundedDocuments(text, where);
}

/**
 * The alias bound on a list of kustomize patches given inline (a Kustomization's `spec.patches`, a HelmRelease
 * post-renderer's `kustomize.patches`): each `patch` text is YAML kustomize parses. `field` is the list's path;
 * an error names `<field>[i].patch`. Checked where the patches are handed to kustomize, so the object whose
 * build it is fails (as Flux's controllers fail it), not the Kustomization that applied the object.
 */
export function assertBoundedPatches(
  patches: readonly { patch?: unknown }[] | undefined,
  where: ManifestLocation & { field: string },
): void {
  (patches ?? []).forEach((p, i) => {
    if (typeof p.patch === "string")
      assertBoundedYaml(p.patch, { ...where, field: `${where.field}[${i}].patch` });
  });
}
