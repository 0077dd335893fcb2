import type { KubernetesObject } from "@kubernetes/client-node";
import { apiStatus, type RawObjectApi } from "../kube-client.js";
import { ObjectError } from "./errors.js";

/** The live object, or undefined when it does not exist. */
export async function getLive(
  api: RawObjectApi,
  obj: KubernetesObject,
): Promise<KubernetesObject | undefined> {
  try {
    return await api.read(obj as Parameters<RawObjectApi["read"]>[0]);
  } catch (err) {
    if (apiStatus(err) === 404) return undefined;
    throw ObjectError.from(obj, "get", err);
  }
}
