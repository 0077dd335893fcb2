// The shapes Kubernetes, Helm and git allow for the names, refs and paths a repository writes into Flux
// objects. Repository content is untrusted: a name becomes a label value, an API path and sometimes a
// directory name, a ref becomes a git argument, a path is joined to a checkout. Each check returns why a
// value is refused (or undefined when it is fine), so parsers can report it with the file, object and field;
// the zod schemas below wrap the same checks for spec fields.
import { z } from "zod";
import { closestName } from "./did-you-mean.js";
import { ManifestError } from "./errors.js";

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const configMapKey = /^[-._a-zA-Z0-9]+$/;
const ociTag = /^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$/;
const chartName = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;
const hexCommit = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

/** Shows a repository string in a message: quoted, escapes visible, never more than 100 characters. */
export function quoted(value: string): string {
  const shown = value.length > 100 ? `${value.slice(0, 100)}…` : value;
  return JSON.stringify(shown);
}

const labelRule = "lowercase letters, digits and '-', beginning and ending with a letter or digit";
const subdomainRule = "lowercase letters, digits, '-' and '.', beginning and ending with a letter or digit";

/** A namespace (DNS-1123 label, at most 63 characters). */
export function namespaceError(value: string): string | undefined {
  if (value.length <= 63 && dns1123Label.test(value)) return undefined;
  return `${quoted(value)} is not a valid namespace (${labelRule}; at most 63 characters)`;
}

/** The name of an object: Secret, ConfigMap, source, ServiceAccount, … (DNS-1123 subdomain, at most 253). */
export function objectNameError(value: string): string | undefined {
  if (value.length <= 253 && dns1123Subdomain.test(value)) return undefined;
  return `${quoted(value)} is not a valid name (${subdomainRule}; at most 253 characters)`;
}

/**
 * The name of a Kustomization or HelmRelease: an object name that is also the value of the labels Flux puts on
 * everything it applies (`kustomize.toolkit.fluxcd.io/name`), so at most 63 characters.
 */
export function reconcilerNameError(value: string): string | undefined {
  if (value.length <= 63 && dns1123Subdomain.test(value)) return undefined;
  return `${quoted(value)} is not a valid name (${subdomainRule}; at most 63 characters, it becomes a label value)`;
}

/** A Helm release name, as Helm and Flux allow it (DNS-1123 subdomain, at most 53 characters). */
export function releaseNameError(value: string): string | undefined {
  if (value.length <= 53 && dns1123Subdomain.test(value)) return undefined;
  return `${quoted(value)} is not a valid Helm release name (${subdomainRule}; at most 53 characters)`;
}

/**
 * The name of an object of any kind (a health check's target): what the API server takes as a path segment —
 * not empty, not `.` or `..`, no '/' or '%'. RBAC names such as `system:controller` are of this kind.
 */
export function resourceNameError(value: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (value.length <= 253 && value !== "." && value !== ".." && /^[^/%\x00-\x1f\x7f]+$/.test(value)) {
    return undefined;
  }
  return `${quoted(value)} is not a valid name (not '.' or '..', no '/', '%' or control characters; at most 253 characters)`;
}

/** A key of a ConfigMap or Secret (`valuesKey`). */
export function dataKeyError(value: string): string | undefined {
  if (value.length <= 253 && configMapKey.test(value)) return undefined;
  return `${quoted(value)} is not a valid ConfigMap or Secret key (letters, digits, '-', '_' and '.'; at most 253 characters)`;
}

/** A chart's name in a Helm repository (no path: it names a file in the repository's index). */
export function chartNameError(value: string): string | undefined {
  if (value.length <= 250 && chartName.test(value)) return undefined;
  return `${quoted(value)} is not a valid chart name (letters, digits, '-', '_' and '.', beginning with a letter or digit; at most 250 characters)`;
}

/**
 * A chart version or version range (`6.x`, `>=1.0.0 <2.0.0`): passed to helm as an argument, so never starting
 * with '-' and without control characters. Empty is Flux's default (the latest).
 */
export function chartVersionError(value: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (value.length <= 256 && !value.startsWith("-") && !/[\x00-\x1f\x7f]/.test(value)) {
    return undefined;
  }
  return `${quoted(value)} is not a valid chart version (a version or range, not beginning with '-'; at most 256 characters)`;
}

/** An OCI tag (the distribution spec's `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`). */
export function ociTagError(value: string): string | undefined {
  if (ociTag.test(value)) return undefined;
  return `${quoted(value)} is not a valid OCI tag (letters, digits, '_', '.' and '-', not beginning with '.' or '-'; at most 128 characters)`;
}

/** A full commit SHA: 40 hex digits (SHA-1) or 64 (SHA-256). */
export function commitError(value: string): string | undefined {
  if (hexCommit.test(value)) return undefined;
  return `must be a hexadecimal commit SHA (40 or 64 lowercase hex digits), not ${quoted(value)}`;
}

/**
 * A branch or tag name, by git's ref-format rules (git check-ref-format), and never starting with '-' so it
 * cannot be read as an option.
 */
export function gitRefNameError(value: string, what: "branch" | "tag"): string | undefined {
  const why = gitRefProblem(value);
  return why ? `${quoted(value)} is not a valid git ${what} name (${why})` : undefined;
}

function gitRefProblem(value: string): string | undefined {
  if (value.length === 0) return "empty";
  if (value.length > 255) return "at most 255 characters";
  if (value.startsWith("-")) return "must not begin with '-'";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(value)) {
    return "no spaces, control characters or any of ~ ^ : ? * [ \\";
  }
  if (value === "@") return "must not be '@'";
  if (value.includes("@{")) return "must not contain '@{'";
  if (value.includes("..")) return "must not contain '..'";
  if (value.startsWith("/") || value.endsWith("/") || value.includes("//")) {
    return "no leading, trailing or double '/'";
  }
  if (value.endsWith(".")) return "must not end with '.'";
  for (const part of value.split("/")) {
    if (part.startsWith(".")) return "no part may begin with '.'";
    if (part.endsWith(".lock")) return "no part may end with '.lock'";
  }
  return undefined;
}

/**
 * A path inside a repository or artifact, as written in a Flux object (`./apps/dev`, `charts/x`): relative, no
 * NUL or other control character, not a URL, and never above the root through `..`. `maxUp` is how many
 * directories the path may climb (a component is relative to spec.path and may go up as far as that leads).
 */
export function relativePathError(value: string, opts: { maxUp?: number } = {}): string | undefined {
  const why = pathProblem(value, opts.maxUp ?? 0);
  return why ? `${quoted(value)} is not a valid path (${why})` : undefined;
}

function pathProblem(value: string, maxUp: number): string | undefined {
  if (value.length > 4096) return "at most 4096 characters";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\x00-\x1f\x7f]/.test(value)) return "contains a control character";
  if (value.startsWith("/")) return "must be relative to the root, not absolute";
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(value)) return "must be a path, not a URL";
  let depth = 0;
  for (const part of value.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      depth--;
      if (depth < -maxUp) return "leaves the root through '..'";
    } else depth++;
  }
  return undefined;
}

/** The depth of `path` below the root (`apps/dev` → 2), for components relative to it. */
export function pathDepth(path: string): number {
  let depth = 0;
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    depth = part === ".." ? Math.max(0, depth - 1) : depth + 1;
  }
  return depth;
}

/** A zod string checked by one of the functions above (the message says what is wrong with the value). */
export function checked(check: (value: string) => string | undefined): z.ZodString {
  return z.string().superRefine((value, ctx) => {
    const why = check(value);
    if (why) ctx.addIssue({ code: "custom", message: why });
  });
}

export const namespaceSchema = checked(namespaceError);
export const objectNameSchema = checked(objectNameError);

/** `Kind/namespace/name` for messages; a name or namespace that is not valid is shown quoted. */
export function subjectOf(kind: string, namespace: string, name: string | undefined): string {
  const show = (v: string, ok: boolean) => (ok ? v : quoted(v));
  return `${kind}/${show(namespace, !namespaceError(namespace))}/${
    name === undefined ? "<no name>" : show(name, !objectNameError(name))
  }`;
}

/** ` (found metdata — did you mean metadata?)` when a missing name is a typo of `metadata` or of `name`. */
function metadataTypo(obj: { metadata?: unknown }): string {
  const metadata = obj.metadata;
  if (metadata === undefined) {
    const others = Object.keys(obj).filter((key) => !["apiVersion", "kind", "spec", "status"].includes(key));
    const typo = closestName("metadata", others);
    return typo === undefined ? "" : ` (found ${plainKey(typo)} — did you mean metadata?)`;
  }
  if (typeof metadata !== "object" || metadata === null) return "";
  const typo = closestName("name", Object.keys(metadata));
  return typo === undefined ? "" : ` (found metadata.${plainKey(typo)} — did you mean name?)`;
}

/** A key from the repository shown as written when it is a plain word, else quoted. */
function plainKey(key: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(key) ? key : quoted(key);
}

/**
 * Reads and checks `metadata.name` and `metadata.namespace` (default flux-system) of a Flux object; errors name
 * the file, object and field. `nameCheck` is the rule for the kind's name (default: an object name).
 */
export function checkedMetadata(
  obj: { metadata?: { name?: string; namespace?: string } },
  kind: string,
  file: string,
  nameCheck: (value: string) => string | undefined = objectNameError,
): { name: string; namespace: string; subject: string } {
  const name = obj.metadata?.name;
  const namespace = obj.metadata?.namespace ?? "flux-system";
  const subject = subjectOf(kind, String(namespace), name === undefined ? undefined : String(name));
  const where = (field: string) => ({ file, object: subject, field });
  if (!name) throw new ManifestError(where("metadata.name"), `is required${metadataTypo(obj)}`);
  if (typeof name !== "string") throw new ManifestError(where("metadata.name"), "must be a string");
  if (typeof namespace !== "string") throw new ManifestError(where("metadata.namespace"), "must be a string");
  const badName = nameCheck(name);
  if (badName) throw new ManifestError(where("metadata.name"), badName);
  const badNamespace = namespaceError(namespace);
  if (badNamespace) throw new ManifestError(where("metadata.namespace"), badNamespace);
  return { name, namespace, subject };
}
