// What a change from outside the repository (a fork's pull request) may see of the live cluster: its own
// content, never the live values it did not write. A live object of a Kustomization can hold values that a
// trusted run substituted from Secrets (postBuild.substituteFrom) or rendered from Secret values (Helm
// valuesFrom); an untrusted run reads no Secret, so it cannot know those values to mask them. So in its diffs the
// lines that only the live side has (`-` lines) keep their keys and lose their values.

import { SECRET_MASK } from "./secret-scrub.js";

const keyValue = /^(-\s*(?:- )*(?:"[^"]*"|'[^']*'|[^\s:#'"][^:#]*?)\s*:)(\s+)(\S.*)$/;
const scalarLine = /^(-\s*(?:- )*)(\S.*)$/;

/** Masks the values on the removed (`-`) lines of a unified diff; headers, hunks, context and additions stay. */
export function maskRemovedValues(diff: string): string {
  return diff
    .split("\n")
    .map((line) => {
      if (!line.startsWith("-") || line.startsWith("---")) return line;
      const kv = keyValue.exec(line);
      if (kv) {
        const value = kv[3] ?? "";
        // `key: |`, `key: >-`, `key: {}`, `key: []` carry no value of their own (a block follows, or nothing).
        if (/^[|>][-+0-9]*$/.test(value) || value === "{}" || value === "[]") return line;
        return `${kv[1]}${kv[2]}${SECRET_MASK}`;
      }
      if (/^-\s*(?:- )*[^\s:]+:$/.test(line) || /^-\s*-?$/.test(line)) return line;
      const scalar = scalarLine.exec(line);
      return scalar ? `${scalar[1]}${SECRET_MASK}` : line;
    })
    .join("\n");
}
