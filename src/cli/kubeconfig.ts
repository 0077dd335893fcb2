// `gitops-bot kubeconfig`: a kubeconfig for a ServiceAccount (the shipped deploy/cluster-access account,
// usually), for the operator file. The token comes from the TokenRequest API — bound to the account, with an
// expiry — never from a long-lived token Secret; server URL and CA come from the current kubeconfig.
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { apiMessage, apiStatus, loadKubeConfig } from "../cluster/kube-client.js";
import { parseDuration } from "../flux/duration.js";
import { namespaceError, objectNameError } from "../flux/names.js";
import type { FlagSpecs } from "./args.js";
import { runCommand } from "./command.js";
import { type CliIO, UsageError } from "./io.js";

export const kubeconfigUsage = `Usage: gitops-bot kubeconfig --namespace <ns> --service-account <name> [options]

Asks the API server for a token of the ServiceAccount (TokenRequest) and writes a kubeconfig that uses it,
with the server URL and CA of the current kubeconfig. Give it to gitops-bot as a cluster's kubeconfig in the
operator file. The API server may shorten the duration (--service-account-max-token-expiration); the
expiry it granted is printed on stderr. Create a new one before it expires.

Options:
  -n, --namespace <ns>          The ServiceAccount's namespace (required)
  --service-account <name>      The ServiceAccount (required), e.g. gitops-bot from deploy/cluster-access
  --duration <duration>         How long the token is valid (default 8760h)
  --output <file>               Write the kubeconfig here (mode 0600) instead of stdout
  --kubeconfig <path>           Kubeconfig to ask with (default: $KUBECONFIG or ~/.kube/config)
  --context <name>              Its context (default: the current context)
  -h, --help                    Show this help
`;

const DEFAULT_DURATION = "8760h";
/** TokenRequest's floor. */
const MIN_SECONDS = 600;

export interface ServiceAccountKubeConfig {
  yaml: string;
  /** When the API server says the token expires. */
  expires?: string;
}

/** The CA of the current cluster as base64 PEM (certificate-authority-data), if the kubeconfig has one. */
function caDataOf(kc: KubeConfig): string | undefined {
  const cluster = kc.getCurrentCluster();
  if (cluster?.caData) return cluster.caData;
  if (cluster?.caFile) return readFileSync(cluster.caFile).toString("base64");
  return undefined;
}

export async function serviceAccountKubeConfig(
  kc: KubeConfig,
  namespace: string,
  serviceAccount: string,
  durationSeconds: number,
): Promise<ServiceAccountKubeConfig> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig has no current cluster");
  let token: string | undefined;
  let expires: string | undefined;
  try {
    const answer = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace,
      body: { spec: { audiences: [], expirationSeconds: durationSeconds } },
    });
    token = answer.status?.token;
    const at = answer.status?.expirationTimestamp as Date | string | undefined;
    expires = at instanceof Date ? at.toISOString() : at;
  } catch (err) {
    const why = apiStatus(err) === 404 ? "not found" : apiMessage(err);
    throw new Error(`ServiceAccount/${namespace}/${serviceAccount}: cannot request a token: ${why}`, {
      cause: err,
    });
  }
  if (!token)
    throw new Error(`ServiceAccount/${namespace}/${serviceAccount}: the API server returned no token`);
  const clusterName = cluster.name || "cluster";
  const user = `${namespace}-${serviceAccount}`;
  const context = `${serviceAccount}@${clusterName}`;
  const caData = caDataOf(kc);
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: clusterName,
        cluster: {
          server: cluster.server,
          ...(caData ? { "certificate-authority-data": caData } : {}),
          ...(cluster.skipTLSVerify ? { "insecure-skip-tls-verify": true } : {}),
          ...(cluster.tlsServerName ? { "tls-server-name": cluster.tlsServerName } : {}),
        },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: context, context: { cluster: clusterName, user, namespace } }],
    "current-context": context,
  };
  return { yaml: stringify(config), ...(expires ? { expires } : {}) };
}

function durationSeconds(text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    throw new UsageError(`--duration: ${(err as Error).message}`);
  }
  const seconds = Math.floor(ms / 1000);
  if (seconds < MIN_SECONDS) throw new UsageError(`--duration must be at least 10m, not ${text}`);
  return seconds;
}

export function kubeconfigCommand(args: string[], io: CliIO): Promise<number> {
  const frame = { name: "gitops-bot kubeconfig", usage: kubeconfigUsage, flags };
  return runCommand(io, args, frame, async ({ values, positionals }) => {
    if (positionals.length > 0) throw new UsageError(`takes no arguments, got "${positionals[0]}"`);
    const namespace = values.namespace;
    const serviceAccount = values["service-account"];
    if (!namespace || !serviceAccount) throw new UsageError("--namespace and --service-account are required");
    if (namespaceError(namespace)) throw new UsageError(`--namespace "${namespace}" is not a namespace name`);
    if (objectNameError(serviceAccount)) {
      throw new UsageError(`--service-account "${serviceAccount}" is not a ServiceAccount name`);
    }
    const seconds = durationSeconds(values.duration ?? DEFAULT_DURATION);
    const kc = loadKubeConfig({
      kubeconfig: values.kubeconfig,
      kubeconfigFrom: "--kubeconfig",
      context: values.context,
    });
    const result = await serviceAccountKubeConfig(kc, namespace, serviceAccount, seconds);
    if (values.output) {
      writeFileSync(values.output, result.yaml, { mode: 0o600 });
      // writeFileSync's mode applies only to a new file; an existing one is narrowed too.
      chmodSync(values.output, 0o600);
      io.err.write(`wrote ${values.output} for ServiceAccount ${namespace}/${serviceAccount}\n`);
    } else {
      io.out.write(result.yaml);
    }
    io.err.write(`token expires ${result.expires ?? "(the API server did not say)"}\n`);
    return 0;
  });
}

const flags = {
  namespace: { type: "string", short: "n" },
  "service-account": { type: "string" },
  duration: { type: "string" },
  output: { type: "string" },
  kubeconfig: { type: "string" },
  context: { type: "string" },
} as const satisfies FlagSpecs;
