// SOPS decryption of a Kustomization's built objects (`spec.decryption.provider: sops`), as Flux's
// kustomize-controller does it: after the build and before post-build substitution, every object that carries
// SOPS metadata (a top-level `sops` field with a `mac`) is decrypted by the real `sops` binary with the age keys
// of the Secret named in `spec.decryption.secretRef` (its `*.agekey` entries). The keys reach sops through its
// environment only, never a file or an argument; every decrypted value is returned so that outputs mask it.
// Runs from outside the repository (a fork's pull request) never decrypt: the caller passes no key reader and
// the encrypted objects come back as `skipped` with the reason.
import type { KubernetesObject } from "@kubernetes/client-node";
import { runTool, ToolError } from "../util/child-process.js";
import type { SecretReader } from "../util/secret-reader.js";

export interface Decryption {
  provider: string;
  secretRef?: { name: string };
}

export interface DecryptOptions {
  /** Reads the key Secret; absent: the run may read no Secret (a fork's pull request) and nothing is decrypted. */
  readSecret?: SecretReader;
  /** Bound of one sops run; default 30 s. */
  timeoutMs?: number;
  /** The sops binary (a path or a name on PATH); default `sops`. */
  binary?: string;
}

export interface DecryptResult {
  objects: KubernetesObject[];
  /** Every decrypted value (and, for Secrets, each `data` value decoded): outputs are scrubbed of them. */
  secretValues: string[];
  /** Encrypted objects left out, with why (a fork's pull request). */
  skipped: Array<{ object: KubernetesObject; reason: string }>;
}

/** Where the error is: `Kustomization <ns>/<name>: spec.decryption…`. */
export class DecryptionError extends Error {
  override name = "DecryptionError";
}

type Encrypted = KubernetesObject & { sops?: { mac?: unknown } };

export function isSopsEncrypted(obj: KubernetesObject): boolean {
  const sops = (obj as Encrypted).sops;
  return typeof sops === "object" && sops !== null && "mac" in sops;
}

const AGE_KEY_SUFFIX = ".agekey";
/** Key kinds Flux reads from the decryption Secret that the bot does not implement. */
const UNSUPPORTED_KEYS: Array<[RegExp, string]> = [
  [/\.asc$/, "PGP keys"],
  [/^sops\.vault-token$/, "HashiCorp Vault tokens"],
  [/^sops\.aws-kms$/, "AWS KMS credentials"],
  [/^sops\.azure-kv$/, "Azure Key Vault credentials"],
  [/^sops\.gcp-kms$/, "GCP KMS credentials"],
];

export const FORK_DECRYPTION_REASON =
  "encrypted with SOPS: a fork's pull request is never decrypted, so this object is not previewed";

/** Decrypts what `decryption` asks for; objects without SOPS metadata pass through untouched. */
export async function decryptObjects(
  where: string,
  namespace: string,
  decryption: Decryption | undefined,
  objects: KubernetesObject[],
  opts: DecryptOptions,
): Promise<DecryptResult> {
  const encrypted = objects.filter(isSopsEncrypted);
  if (encrypted.length === 0) return { objects, secretValues: [], skipped: [] };
  if (!decryption) {
    const first = encrypted[0] as KubernetesObject;
    throw new DecryptionError(
      `${at(where)}${describe(first)} is encrypted with SOPS but spec.decryption is not set (set provider: sops and secretRef)`,
    );
  }
  if (decryption.provider !== "sops")
    throw new DecryptionError(
      `${at(where)}spec.decryption.provider: "${decryption.provider}" is not supported (only sops)`,
    );
  if (!opts.readSecret) {
    return {
      objects: objects.filter((o) => !isSopsEncrypted(o)),
      secretValues: [],
      skipped: encrypted.map((object) => ({ object, reason: FORK_DECRYPTION_REASON })),
    };
  }
  const keys = await ageKeys(where, namespace, decryption, opts.readSecret);
  const secretValues: string[] = [];
  const out: KubernetesObject[] = [];
  for (const obj of objects) {
    if (!isSopsEncrypted(obj)) {
      out.push(obj);
      continue;
    }
    const plain = await runSops(where, obj, keys, opts);
    secretValues.push(...decryptedValues(obj, plain));
    out.push(plain);
  }
  return { objects: out, secretValues, skipped: [] };
}

async function ageKeys(
  where: string,
  namespace: string,
  decryption: Decryption,
  readSecret: SecretReader,
): Promise<string> {
  const name = decryption.secretRef?.name;
  if (!name)
    throw new DecryptionError(
      `${at(where)}spec.decryption.secretRef is required: gitops-bot decrypts with the age keys of a Secret`,
    );
  let data: Record<string, string>;
  try {
    data = await readSecret(namespace, name);
  } catch (err) {
    throw new DecryptionError(
      `${at(where)}spec.decryption.secretRef: Secret ${namespace}/${name}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const keys = Object.entries(data)
    .filter(([k]) => k.endsWith(AGE_KEY_SUFFIX))
    .map(([, v]) => v.trim());
  if (keys.length === 0) {
    const other = Object.keys(data)
      .map((k) => UNSUPPORTED_KEYS.find(([re]) => re.test(k))?.[1])
      .filter((x): x is string => Boolean(x));
    const why =
      other.length > 0
        ? `it holds ${[...new Set(other)].join(", ")}, which gitops-bot does not support (age keys only)`
        : `it has no entry ending in ${AGE_KEY_SUFFIX}`;
    throw new DecryptionError(
      `${at(where)}spec.decryption.secretRef: Secret ${namespace}/${name} has no age key: ${why}`,
    );
  }
  return keys.join("\n");
}

/** Master-key kinds sops would contact (a key service, a cloud KMS, the instance metadata server, gpg). */
const FOREIGN_MASTER_KEYS = ["kms", "gcp_kms", "azure_kv", "hc_vault", "pgp"];

/**
 * The object's own SOPS metadata says which key services sops asks: from a repository that is a request to
 * any address (Vault) or to the cloud metadata server (KMS), outside the outbound policy. Only age is allowed.
 */
function foreignMasterKey(obj: KubernetesObject): string | undefined {
  const sops = (obj as { sops?: Record<string, unknown> }).sops ?? {};
  const inUse = (block: Record<string, unknown>, prefix: string) =>
    FOREIGN_MASTER_KEYS.map((k) => [k, block[k]] as const)
      .filter(([, v]) => (Array.isArray(v) ? v.length > 0 : v !== undefined && v !== null))
      .map(([k]) => `${prefix}${k}`)[0];
  const top = inUse(sops, "sops.");
  if (top) return top;
  const groups = Array.isArray(sops.key_groups) ? sops.key_groups : [];
  for (const [i, g] of groups.entries()) {
    if (!g || typeof g !== "object") continue;
    const found = inUse(g as Record<string, unknown>, `sops.key_groups[${i}].`);
    if (found) return found;
  }
  return undefined;
}

async function runSops(
  where: string,
  obj: KubernetesObject,
  keys: string,
  opts: DecryptOptions,
): Promise<KubernetesObject> {
  const foreign = foreignMasterKey(obj);
  if (foreign)
    throw new DecryptionError(
      `${at(where)}${describe(obj)}: ${foreign}: only age keys are supported; sops is never asked to contact a key service`,
    );
  let stdout: string;
  try {
    ({ stdout } = await runTool({
      binary: opts.binary ?? "sops",
      // Not the file's MAC: kustomize has set namespaces and labels on the built object since it was encrypted
      // (Flux does not check it for built objects either). Each value stays authenticated by AES-GCM with its
      // path, so an encrypted value cannot be altered or moved unnoticed.
      args: ["decrypt", "--ignore-mac", "--input-type", "json", "--output-type", "json"],
      input: JSON.stringify(obj),
      timeoutMs: opts.timeoutMs ?? 30_000,
      maxOutputBytes: 16 * 1024 * 1024,
      // The keys live in the environment of this one process only.
      // AWS_EC2_METADATA_DISABLED: a second wall in case a KMS entry slipped through.
      env: { SOPS_AGE_KEY: keys, AWS_EC2_METADATA_DISABLED: "true" },
      label: `sops decrypt ${describe(obj)}`,
    }));
  } catch (err) {
    const detail =
      err instanceof ToolError && err.reason === "not-found"
        ? "the sops binary is not installed (put sops on PATH)"
        : sopsMessage(err);
    throw new DecryptionError(`${at(where)}${describe(obj)}: SOPS decryption failed: ${detail}`, {
      cause: err,
    });
  }
  let plain: unknown;
  try {
    plain = JSON.parse(stdout);
  } catch {
    throw new DecryptionError(`${at(where)}${describe(obj)}: sops printed something that is not JSON`);
  }
  if (typeof plain !== "object" || plain === null || Array.isArray(plain))
    throw new DecryptionError(`${at(where)}${describe(obj)}: sops printed something that is not an object`);
  const result = plain as KubernetesObject & { sops?: unknown };
  delete result.sops;
  if (result.kind !== obj.kind || result.metadata?.name !== obj.metadata?.name)
    throw new DecryptionError(
      `${at(where)}${describe(obj)}: the decrypted object is ${describe(result)}: kind and name must not be encrypted`,
    );
  return result;
}

/** sops's own first error line, without the keys (they are never in its output, but be sure). */
function sopsMessage(err: unknown): string {
  const e = err as Partial<ToolError>;
  const text = (e.stderr || e.message || String(err)).trim();
  const line = text.split("\n").find((l) => l.trim().length > 0) ?? text;
  return line.replace(/AGE-SECRET-KEY-1[0-9A-Z]+/g, "AGE-SECRET-KEY-1***").slice(0, 500);
}

/** The values that were encrypted: each leaf that changed, and for Secrets each data value decoded. */
export function decryptedValues(encrypted: KubernetesObject, plain: KubernetesObject): string[] {
  const out: string[] = [];
  const walk = (enc: unknown, dec: unknown) => {
    if (typeof enc === "string" && enc.startsWith("ENC[")) {
      if (typeof dec === "string" || typeof dec === "number" || typeof dec === "boolean")
        out.push(String(dec));
      return;
    }
    if (enc && dec && typeof enc === "object" && typeof dec === "object") {
      for (const [k, v] of Object.entries(enc as Record<string, unknown>)) {
        if (k === "sops") continue;
        walk(v, (dec as Record<string, unknown>)[k]);
      }
    }
  };
  walk(encrypted, plain);
  if (plain.kind === "Secret") {
    const data = (plain as { data?: Record<string, unknown> }).data ?? {};
    for (const v of Object.values(data))
      if (typeof v === "string") out.push(Buffer.from(v, "base64").toString("utf8"));
  }
  return out.filter((v) => v.length > 0);
}

/** The prefix of every message: where the decryption was asked for, if the caller names it. */
function at(where: string): string {
  return where ? `${where}: ` : "";
}

function describe(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace ? `${obj.metadata.namespace}/` : "";
  return `${obj.kind ?? "object"}/${ns}${obj.metadata?.name ?? "(no name)"}`;
}
