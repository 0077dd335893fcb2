import { stringify } from "yaml";

/** YAML as people write it for Kubernetes: no line folding, so diffs line up with the source. */
export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });
}
