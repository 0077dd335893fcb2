// Label values from outside data, kept bounded: a label is a short token from a known shape, never free text
// (an error message, a URL path with ids, a SHA would make a new series per value).

/** A token of at most `max` characters from [A-Za-z0-9_.-]; anything else becomes "other". */
export function boundedToken(value: string | undefined, max = 40): string {
  if (!value) return "";
  return /^[A-Za-z0-9_.-]+$/.test(value) && value.length <= max ? value : "other";
}

/** `Kind/namespace/name@revision` (a result's `source`) split into its parts; undefined if it has another shape. */
export function parseSourceRef(
  ref: string | undefined,
): { kind: string; namespace: string; name: string; revision: string } | undefined {
  if (!ref) return undefined;
  const at = ref.indexOf("@");
  const path = at < 0 ? ref : ref.slice(0, at);
  const [kind, namespace, name, ...rest] = path.split("/");
  if (!kind || !namespace || !name || rest.length > 0) return undefined;
  return { kind, namespace, name, revision: at < 0 ? "" : ref.slice(at + 1) };
}
