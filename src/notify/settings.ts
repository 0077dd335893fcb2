// A Provider's settings with its Secrets read, as Flux's event handler reads them: the secretRef Secret's
// `address`, `proxy` and `username` override the spec's; `token`, `password` and `headers` (a YAML map) come
// from it alone; certSecretRef's `ca.crt` (or the deprecated `caFile`) is the CA bundle. Secrets are read when
// a notification is delivered, through the SecretReader the run was given (so a run that may read no Secret
// reads none here either). The values that must never be shown are listed for the notifier's scrubber.
import { parse as parseYaml } from "yaml";
import type { FluxProvider } from "../flux/notification.js";
import type { SecretReader } from "../util/secret-reader.js";
import { DeliveryError } from "./errors.js";
import type { ProviderSettings } from "./providers/types.js";

/** Flux's Provider timeout when spec.timeout is not set. */
export const defaultProviderTimeoutMs = 15_000;

// RFC 9110 token characters for header names; values without control characters (no header injection).
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const headerValue = /^[^\x00-\x08\x0a-\x1f\x7f]*$/;

/** Keys of the Secret that are not secret (they are shown in payloads by design). */
const publicKeys = new Set(["username", "from", "to", "channel"]);

export interface ResolvedProvider {
  settings: ProviderSettings;
  /** Every value that must not appear in a message or a log line. */
  secretValues: string[];
}

function fail(provider: FluxProvider, field: string, message: string, cause?: unknown): DeliveryError {
  return new DeliveryError(`${provider.subject}: ${field}: ${message}`, false, cause ? { cause } : undefined);
}

async function readSecret(
  provider: FluxProvider,
  secrets: SecretReader,
  name: string,
  field: string,
): Promise<Record<string, string>> {
  try {
    return await secrets(provider.namespace, name);
  } catch (error) {
    // The reader's message names the Secret, never its content.
    throw fail(provider, field, (error as Error).message, error);
  }
}

function parseHeaders(provider: FluxProvider, text: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = parseYaml(text, { maxAliasCount: 10 });
  } catch (error) {
    throw fail(provider, "the Secret's headers", "is not YAML", error);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw fail(provider, "the Secret's headers", "must be a YAML map of header names to values");
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!headerName.test(name)) {
      throw fail(provider, "the Secret's headers", `${JSON.stringify(name)} is not a header name`);
    }
    const text = typeof value === "string" ? value : String(value);
    if (!headerValue.test(text)) {
      throw fail(
        provider,
        "the Secret's headers",
        `the value of ${name} has a line break or control character`,
      );
    }
    headers[name.toLowerCase()] = text;
  }
  return headers;
}

/** The parts of a URL that may be secret: user information, path (webhook tokens live there) and query. */
export function urlSecretPieces(text: string): string[] {
  const pieces = [text];
  try {
    const url = new URL(text);
    pieces.push(url.username, url.password, decodeURIComponent(url.password), url.search);
    if (url.pathname.length > 1) pieces.push(url.pathname, `${url.pathname}${url.search}`);
  } catch {
    // Not a URL: the whole text is the secret.
  }
  return pieces.filter((p) => p.length >= 4);
}

export async function resolveProviderSettings(
  provider: FluxProvider,
  secrets: SecretReader,
  options: { maxTimeoutMs?: number } = {},
): Promise<ResolvedProvider> {
  const spec = provider.spec;
  const data = spec.secretRef
    ? await readSecret(provider, secrets, spec.secretRef.name, "spec.secretRef")
    : {};
  let ca: string | undefined;
  if (spec.certSecretRef) {
    const certs = await readSecret(provider, secrets, spec.certSecretRef.name, "spec.certSecretRef");
    ca = certs["ca.crt"] ?? certs.caFile;
    if (!ca) {
      throw fail(
        provider,
        "spec.certSecretRef",
        `Secret ${provider.namespace}/${spec.certSecretRef.name} has no ca.crt`,
      );
    }
  }
  const headers = data.headers ? parseHeaders(provider, data.headers) : {};
  const address = data.address ?? spec.address;
  const proxy = data.proxy ?? spec.proxy;
  // A `timeout: 0s` would abort every attempt at once; 100 ms is the least an attempt gets.
  const timeoutMs = Math.max(
    100,
    Math.min(provider.timeoutMs ?? defaultProviderTimeoutMs, options.maxTimeoutMs ?? Infinity),
  );
  const settings: ProviderSettings = {
    subject: provider.subject,
    type: spec.type,
    address: address || undefined,
    addressFromSecret: data.address !== undefined,
    channel: spec.channel || undefined,
    username: data.username ?? (spec.username || undefined),
    token: data.token || undefined,
    password: data.password || undefined,
    headers,
    proxy: proxy || undefined,
    ca,
    secretData: data,
    timeoutMs,
  };
  const secretValues = new Set<string>();
  for (const [key, value] of Object.entries(data)) {
    if (!publicKeys.has(key)) for (const piece of urlSecretPieces(value)) secretValues.add(piece);
  }
  for (const value of Object.values(headers)) secretValues.add(value);
  // Addresses and proxies written in the repository are public, but user information in them is not.
  for (const text of [spec.address, spec.proxy]) {
    if (!text) continue;
    try {
      const url = new URL(text);
      for (const piece of [url.password, decodeURIComponent(url.password)])
        if (piece) secretValues.add(piece);
    } catch {
      // Not a URL: nothing hidden in it.
    }
  }
  return { settings, secretValues: [...secretValues].filter((v) => v.length >= 4) };
}
