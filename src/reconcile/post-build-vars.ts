// The variables of a Kustomization's postBuild: ConfigMaps and Secrets named in substituteFrom (read from the
// cluster, in the Kustomization's namespace, in order), then the inline substitute map, which wins.
import type { KubernetesObject } from "@kubernetes/client-node";
import { apiMessage, apiStatus, type RawObjectApi } from "../cluster/kube-client.js";
import type { FluxKustomization } from "../flux/kustomization.js";
import { namespaceRefusal, type TenancyPolicy } from "./tenancy.js";

export interface PostBuildVars {
  vars: Record<string, string>;
  /** Values that came from Secrets: outputs are scrubbed of them. */
  secretValues: string[];
}

export async function postBuildVars(
  api: RawObjectApi | undefined,
  ks: FluxKustomization,
  opts: { readSecrets?: boolean; tenancy?: TenancyPolicy } = {},
): Promise<PostBuildVars> {
  const vars: Record<string, string> = {};
  const fromSecrets: string[] = [];
  for (const [i, ref] of (ks.spec.postBuild?.substituteFrom ?? []).entries()) {
    const refused = namespaceRefusal(opts.tenancy, ks.namespace);
    if (refused) {
      throw new Error(
        `spec.postBuild.substituteFrom[${i}]: ${ref.kind}/${ks.namespace}/${ref.name}: ${refused}`,
      );
    }
    if (ref.kind === "Secret" && opts.readSecrets === false) {
      if (ref.optional) continue;
      throw new Error(
        `substituteFrom Secret/${ks.namespace}/${ref.name} is not read for changes from outside the repository (a fork's pull request): its values could show in the diff`,
      );
    }
    if (!api)
      throw new Error(
        `substituteFrom ${ref.kind}/${ks.namespace}/${ref.name} needs a cluster to read it from`,
      );
    let obj: KubernetesObject & { data?: Record<string, string> };
    try {
      obj = await api.read({
        apiVersion: "v1",
        kind: ref.kind,
        metadata: { name: ref.name, namespace: ks.namespace },
      });
    } catch (err) {
      if (apiStatus(err) === 404 && ref.optional) continue;
      const why = apiStatus(err) === 404 ? "not found" : apiMessage(err);
      throw new Error(`substituteFrom ${ref.kind}/${ks.namespace}/${ref.name}: ${why}`);
    }
    for (const [key, value] of Object.entries(obj.data ?? {})) {
      vars[key] = ref.kind === "Secret" ? Buffer.from(value, "base64").toString("utf8") : value;
      if (ref.kind === "Secret") fromSecrets.push(vars[key]);
    }
  }
  return { vars: { ...vars, ...(ks.spec.postBuild?.substitute ?? {}) }, secretValues: fromSecrets };
}
