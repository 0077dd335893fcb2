// The API client of a Kustomization whose objects go to another cluster (Flux's hub model,
// `spec.kubeConfig.secretRef`): the kubeconfig is read from the Secret in the Kustomization's namespace (within
// the tenancy policy), checked (cluster/remote-kubeconfig.ts: inline credentials only, a server the operator
// lists), and the Kustomization's serviceAccountName is impersonated on that cluster. A fork's pull request
// never reads it. The inventory stays on the bot's own cluster, as Flux keeps status on the hub.

import { RawObjectApi } from "../cluster/kube-client.js";
import { DEFAULT_KUBECONFIG_KEYS, remoteKubeConfig } from "../cluster/remote-kubeconfig.js";
import { clusterSecretReader } from "../source/credentials.js";
import type { ReconcileOptions } from "./options.js";
import { impersonatedUser, tenantSecretReader } from "./tenancy.js";

export interface RemoteRef {
  secretName: string;
  key?: string;
}

export async function remoteClientFor(
  api: RawObjectApi,
  opts: Pick<ReconcileOptions, "tenancy" | "untrusted" | "remoteClusters">,
  owner: { namespace: string; serviceAccountName?: string },
  ref: RemoteRef,
): Promise<{ api: RawObjectApi; user?: string }> {
  const where = `spec.kubeConfig.secretRef: Secret ${owner.namespace}/${ref.secretName}`;
  if (opts.untrusted)
    throw new Error(
      `${where}: not read for changes from outside the repository (a fork's pull request): it holds another cluster's credentials`,
    );
  const data = await tenantSecretReader(clusterSecretReader(api), opts.tenancy)(
    owner.namespace,
    ref.secretName,
  ).catch((err: Error) => {
    throw new Error(`${where}: ${err.message}`, { cause: err });
  });
  const keys = ref.key ? [ref.key] : DEFAULT_KUBECONFIG_KEYS;
  const key = keys.find((k) => data[k] !== undefined);
  if (!key) throw new Error(`${where}: has no key ${keys.join(" or ")}`);
  const kc = remoteKubeConfig(data[key] as string, where, opts.remoteClusters ?? []);
  const remote = RawObjectApi.fromKubeConfig(kc, api.timeouts);
  const user = impersonatedUser(opts.tenancy, owner.namespace, owner.serviceAccountName);
  return user ? { api: remote.impersonating(user), user } : { api: remote };
}
