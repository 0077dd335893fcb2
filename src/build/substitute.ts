// Flux's post-build variable substitution: `${var}`, `${var:=default}` (also `:-`, `=`, `-`), `$${var}` as an
// escape for a literal `${var}`. Plain `$var` is left alone, as Flux documents, so shell scripts embedded in
// ConfigMaps survive. Objects annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` are not touched.
import type { KubernetesObject } from "@kubernetes/client-node";
import { parse } from "yaml";
import { toYaml } from "../reconcile/yaml.js";

export const SUBSTITUTE_ANNOTATION = "kustomize.toolkit.fluxcd.io/substitute";

const pattern = /\$(\$?)\{([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[=-])([^}]*))?\}/g;

export class SubstitutionError extends Error {
  override name = "SubstitutionError";
}

/** Substitutes variables in a text; unknown variables without a default become empty strings, as in Flux. */
export function substituteText(
  text: string,
  vars: Record<string, string>,
  opts: { strict?: boolean } = {},
): string {
  return text.replace(
    pattern,
    (whole, escaped: string, name: string, op: string | undefined, fallback: string | undefined) => {
      if (escaped) return whole.slice(1);
      const value = vars[name];
      if (op !== undefined) {
        // ":=" and ":-" use the default when unset or empty; "=" and "-" only when unset.
        const useDefault = op.startsWith(":") ? value === undefined || value === "" : value === undefined;
        return useDefault ? (fallback ?? "") : (value ?? "");
      }
      if (value === undefined) {
        if (opts.strict) throw new SubstitutionError(`variable "${name}" is not set and has no default`);
        return "";
      }
      return value;
    },
  );
}

export function substitutionDisabled(obj: KubernetesObject): boolean {
  return obj.metadata?.annotations?.[SUBSTITUTE_ANNOTATION] === "disabled";
}

/**
 * Substitutes one object by rendering it to YAML and back, as Flux does, so variables work in keys and
 * values alike and a substituted number stays a number.
 */
export function substituteObject(
  obj: KubernetesObject,
  vars: Record<string, string>,
  opts: { strict?: boolean } = {},
): KubernetesObject {
  if (substitutionDisabled(obj)) return obj;
  const text = toYaml(obj);
  if (!text.includes("${")) return obj;
  const substituted = substituteText(text, vars, opts);
  try {
    return parse(substituted, { prettyErrors: false }) as KubernetesObject;
  } catch (err) {
    // The parser's message quotes the offending line, which holds substituted values (maybe from a Secret):
    // keep only where it broke.
    const offset = (err as { pos?: [number, number] }).pos?.[0];
    const line = offset === undefined ? undefined : substituted.slice(0, offset).split("\n").length;
    const code = (err as { code?: string }).code ?? "YAML error";
    throw new SubstitutionError(
      `the substituted object is not valid YAML (${code}${line ? ` at line ${line}` : ""}); check that values with ':' or quotes are quoted`,
    );
  }
}
