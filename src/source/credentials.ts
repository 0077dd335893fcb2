// Credentials for sources come from Secrets named by `secretRef`, read from the cluster at fetch time. They
// live in memory only: never in a log line, an error message, a file left on disk or a URL we print.
import type { KubernetesObject } from "@kubernetes/client-node";
import { apiMessage, apiStatus } from "../cluster/api-errors.js";
import type { RawObjectApi } from "../cluster/kube-client.js";
import { type BasicCredentials, basicAuthorization } from "../util/registry/auth.js";
import type { SecretReader } from "../util/secret-reader.js";

export type { SecretReader };

export function clusterSecretReader(api: RawObjectApi): SecretReader {
  return async (namespace, name) => {
    let secret: KubernetesObject & { data?: Record<string, string> };
    try {
      secret = await api.read({ apiVersion: "v1", kind: "Secret", metadata: { name, namespace } });
    } catch (err) {
      const why = apiStatus(err) === 404 ? "not found" : apiMessage(err);
      throw new Error(`Secret ${namespace}/${name}: ${why}`);
    }
    return Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
    );
  };
}

/** For runs without a cluster (`gitops-bot build`): a source that needs a Secret cannot be fetched. */
export const noSecrets: SecretReader = async (namespace, name) => {
  throw new Error(`Secret ${namespace}/${name} needs a cluster to be read from`);
};

/** Basic credentials: the same type and header for every source and registry (src/util/registry/auth.ts). */
export type BasicAuth = BasicCredentials;

export function basicAuthFrom(data: Record<string, string>, secret: string): BasicAuth | undefined {
  if (data.username === undefined && data.password === undefined) return undefined;
  if (!data.username || data.password === undefined) {
    throw new Error(`Secret ${secret} must have both username and password`);
  }
  return { username: data.username, password: data.password };
}

export const basicAuthHeader: (auth: BasicAuth) => string = basicAuthorization;

/** A URL fit for messages: user information (which may hold a token) removed. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//");
  }
}

/** Removes every occurrence of the given secrets from a text (a tool's stderr) before it reaches a message. */
export function redact(text: string, secrets: (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join("*****");
  return out;
}
