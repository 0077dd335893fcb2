// Flux's hub model: a Kustomization's `spec.kubeConfig.secretRef` names a Secret (in its own namespace) holding a
// kubeconfig for the cluster its objects go to. The kubeconfig is repository-chosen data read from the cluster,
// so it is hostile: it may name any server and, in a kubeconfig, "credentials" can be a program to run (`exec`,
// `auth-provider`) or files on the bot's disk (`tokenFile`, `client-certificate`). Only inline credentials are
// accepted (token, client certificate and key data, CA data), one cluster, and only a server the operator lists
// in `security.remoteClusters` — the bot never talks to a server the operator did not name.
import { KubeConfig } from "@kubernetes/client-node";
import { parse } from "yaml";

export class RemoteKubeConfigError extends Error {
  override name = "RemoteKubeConfigError";
}

/** Flux reads `value`, then `value.yaml`, when `secretRef.key` is not set. */
export const DEFAULT_KUBECONFIG_KEYS = ["value", "value.yaml"];

const ALLOWED_USER_FIELDS = new Set([
  "token",
  "client-certificate-data",
  "client-key-data",
  "username",
  "password",
]);
const ALLOWED_CLUSTER_FIELDS = new Set([
  "server",
  "certificate-authority-data",
  "tls-server-name",
  "insecure-skip-tls-verify",
]);

/** The normal form of an API server URL, for comparing with the operator's list. */
export function normalServer(url: string): string {
  const u = new URL(url);
  const port = u.port || (u.protocol === "https:" ? "443" : "80");
  return `${u.protocol}//${u.hostname.toLowerCase()}:${port}${u.pathname.replace(/\/+$/, "")}`;
}

/**
 * Parses and checks a kubeconfig from a Secret; `where` prefixes every message
 * (`spec.kubeConfig.secretRef: Secret flux-system/prod-kubeconfig`).
 */
export function remoteKubeConfig(text: string, where: string, allowedServers: readonly string[]): KubeConfig {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 10 });
  } catch (err) {
    throw new RemoteKubeConfigError(`${where}: not a kubeconfig: ${(err as Error).message.split("\n")[0]}`);
  }
  const cfg = doc as {
    clusters?: Array<{ name?: string; cluster?: Record<string, unknown> }>;
    users?: Array<{ name?: string; user?: Record<string, unknown> }>;
    contexts?: Array<{ name?: string; context?: { cluster?: string; user?: string; namespace?: string } }>;
    "current-context"?: string;
  };
  if (!cfg || typeof cfg !== "object" || !Array.isArray(cfg.clusters) || !Array.isArray(cfg.contexts))
    throw new RemoteKubeConfigError(`${where}: not a kubeconfig (no clusters and contexts)`);
  const contextName = cfg["current-context"] ?? cfg.contexts[0]?.name;
  const context = cfg.contexts.find((c) => c.name === contextName)?.context;
  if (!context)
    throw new RemoteKubeConfigError(`${where}: its current-context "${contextName}" is not defined`);
  const cluster = cfg.clusters.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster) throw new RemoteKubeConfigError(`${where}: cluster "${context.cluster}" is not defined`);
  const user = (cfg.users ?? []).find((u) => u.name === context.user)?.user ?? {};
  for (const key of Object.keys(cluster))
    if (!ALLOWED_CLUSTER_FIELDS.has(key))
      throw new RemoteKubeConfigError(
        `${where}: clusters[].cluster.${key} is not allowed (only server, certificate-authority-data, tls-server-name)`,
      );
  for (const key of Object.keys(user))
    if (!ALLOWED_USER_FIELDS.has(key))
      throw new RemoteKubeConfigError(
        `${where}: users[].user.${key} is not allowed: only inline credentials (token, client-certificate-data and client-key-data) — never a program to run or a file to read`,
      );
  if (cluster["insecure-skip-tls-verify"] === true)
    throw new RemoteKubeConfigError(`${where}: insecure-skip-tls-verify is not allowed`);
  const server = typeof cluster.server === "string" ? cluster.server : "";
  let normal: string;
  try {
    normal = normalServer(server);
  } catch {
    throw new RemoteKubeConfigError(`${where}: clusters[].cluster.server "${server}" is not a URL`);
  }
  if (!normal.startsWith("https:"))
    throw new RemoteKubeConfigError(`${where}: the API server must be reached over https, not ${server}`);
  const allowed = new Set(allowedServers.map((s) => normalServer(s)));
  if (!allowed.has(normal))
    throw new RemoteKubeConfigError(
      `${where}: the API server ${server} is not in the operator's security.remoteClusters list`,
    );
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: "remote",
        // The normal form that was checked, not the Secret's spelling: no second parser may read it otherwise.
        server: normal,
        skipTLSVerify: false,
        ...(typeof cluster["certificate-authority-data"] === "string"
          ? { caData: cluster["certificate-authority-data"] }
          : {}),
        ...(typeof cluster["tls-server-name"] === "string"
          ? { tlsServerName: cluster["tls-server-name"] }
          : {}),
      },
    ],
    users: [
      {
        name: "remote",
        ...(typeof user.token === "string" ? { token: user.token } : {}),
        ...(typeof user["client-certificate-data"] === "string"
          ? { certData: user["client-certificate-data"] }
          : {}),
        ...(typeof user["client-key-data"] === "string" ? { keyData: user["client-key-data"] } : {}),
        ...(typeof user.username === "string" ? { username: user.username } : {}),
        ...(typeof user.password === "string" ? { password: user.password } : {}),
      },
    ],
    contexts: [
      {
        name: "remote",
        cluster: "remote",
        user: "remote",
        ...(context.namespace ? { namespace: context.namespace } : {}),
      },
    ],
    currentContext: "remote",
  });
  return kc;
}
