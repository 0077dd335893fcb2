// Is an object healthy? The kstatus rules Flux's health checks use, reduced to the kinds the engine waits for:
// workloads roll out, Jobs complete, PVCs bind, LoadBalancer Services get an address, CRDs are Established,
// and anything else with a Ready condition is Ready. Pure: the caller reads objects and polls.
import type { KubernetesObject } from "@kubernetes/client-node";

export type HealthStatus = "Current" | "InProgress" | "Failed";

export interface Health {
  status: HealthStatus;
  message: string;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

type AnyObject = KubernetesObject & {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown> & { conditions?: Condition[]; observedGeneration?: number };
};

const current = (message = "Resource is current"): Health => ({ status: "Current", message });
const inProgress = (message: string): Health => ({ status: "InProgress", message });
const failed = (message: string): Health => ({ status: "Failed", message });

function condition(obj: AnyObject, type: string): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === type);
}

function num(value: unknown): number {
  return typeof value === "number" ? value : 0;
}

export function assessHealth(input: KubernetesObject): Health {
  const obj = input as AnyObject;
  const generation = obj.metadata?.generation;
  const observed = obj.status?.observedGeneration;
  if (generation !== undefined && observed !== undefined && observed < generation) {
    return inProgress(`observed generation ${observed} is behind generation ${generation}`);
  }
  const group = obj.apiVersion?.includes("/") ? obj.apiVersion.split("/")[0] : "";
  switch (`${group}/${obj.kind}`) {
    case "apps/Deployment":
      return deploymentHealth(obj);
    case "apps/StatefulSet":
      return statefulSetHealth(obj);
    case "apps/DaemonSet":
      return daemonSetHealth(obj);
    case "batch/Job":
      return jobHealth(obj);
    case "/PersistentVolumeClaim":
      return obj.status?.phase === "Bound"
        ? current("PVC is Bound")
        : inProgress(`PVC phase is ${obj.status?.phase ?? "unknown"}`);
    case "/Service":
      return serviceHealth(obj);
    case "apiextensions.k8s.io/CustomResourceDefinition":
      return crdHealth(obj);
    case "/Pod":
      return podHealth(obj);
    default:
      return genericHealth(obj);
  }
}

function deploymentHealth(obj: AnyObject): Health {
  const progressing = condition(obj, "Progressing");
  if (progressing?.status === "False" && progressing.reason === "ProgressDeadlineExceeded") {
    return failed(`Progress deadline exceeded: ${progressing.message ?? ""}`.trim());
  }
  const replicas = num(obj.spec?.replicas ?? 1);
  const s = obj.status ?? {};
  if (num(s.updatedReplicas) < replicas) return inProgress(`Updated: ${num(s.updatedReplicas)}/${replicas}`);
  if (num(s.replicas) > num(s.updatedReplicas))
    return inProgress(`Pending termination: ${num(s.replicas) - num(s.updatedReplicas)}`);
  if (num(s.availableReplicas) < replicas)
    return inProgress(`Available: ${num(s.availableReplicas)}/${replicas}`);
  if (num(s.readyReplicas) < replicas) return inProgress(`Ready: ${num(s.readyReplicas)}/${replicas}`);
  const available = condition(obj, "Available");
  if (replicas > 0 && available?.status !== "True") return inProgress("Deployment is not Available");
  return current(`Deployment is available. Replicas: ${replicas}`);
}

function statefulSetHealth(obj: AnyObject): Health {
  const replicas = num(obj.spec?.replicas ?? 1);
  const s = obj.status ?? {};
  if (num(s.readyReplicas) < replicas) return inProgress(`Ready: ${num(s.readyReplicas)}/${replicas}`);
  if (num(s.currentReplicas) < replicas && s.updateRevision !== s.currentRevision) {
    return inProgress(`Updated: ${num(s.updatedReplicas)}/${replicas}`);
  }
  return current(`StatefulSet is ready. Replicas: ${replicas}`);
}

function daemonSetHealth(obj: AnyObject): Health {
  const s = obj.status ?? {};
  const desired = num(s.desiredNumberScheduled);
  if (num(s.updatedNumberScheduled) < desired)
    return inProgress(`Updated: ${num(s.updatedNumberScheduled)}/${desired}`);
  if (num(s.numberAvailable) < desired) return inProgress(`Available: ${num(s.numberAvailable)}/${desired}`);
  if (num(s.numberReady) < desired) return inProgress(`Ready: ${num(s.numberReady)}/${desired}`);
  return current(`All replicas scheduled as expected. Replicas: ${desired}`);
}

function jobHealth(obj: AnyObject): Health {
  const complete = condition(obj, "Complete");
  if (complete?.status === "True") return current("Job Completed");
  const failedCondition = condition(obj, "Failed");
  if (failedCondition?.status === "True")
    return failed(`Job failed: ${failedCondition.reason ?? ""} ${failedCondition.message ?? ""}`.trim());
  return inProgress(
    `Job in progress: active ${num(obj.status?.active)}, succeeded ${num(obj.status?.succeeded)}`,
  );
}

function serviceHealth(obj: AnyObject): Health {
  if (obj.spec?.type !== "LoadBalancer") return current("Service is ready");
  const ingress = (obj.status?.loadBalancer as { ingress?: unknown[] } | undefined)?.ingress;
  return ingress && ingress.length > 0
    ? current("Service is ready")
    : inProgress("LoadBalancer has no address yet");
}

function crdHealth(obj: AnyObject): Health {
  const established = condition(obj, "Established");
  if (established?.status === "True") return current("CRD is Established");
  const names = condition(obj, "NamesAccepted");
  if (names?.status === "False") return failed(`CRD names not accepted: ${names.message ?? ""}`.trim());
  return inProgress("CRD is not Established yet");
}

function podHealth(obj: AnyObject): Health {
  if (obj.status?.phase === "Succeeded") return current("Pod has completed successfully");
  if (obj.status?.phase === "Failed") return failed("Pod has failed");
  return condition(obj, "Ready")?.status === "True"
    ? current("Pod is Ready")
    : inProgress("Pod is not Ready");
}

function genericHealth(obj: AnyObject): Health {
  const stalled = condition(obj, "Stalled");
  if (stalled?.status === "True")
    return failed(`${stalled.reason ?? "Stalled"}: ${stalled.message ?? ""}`.trim());
  const ready = condition(obj, "Ready");
  if (!ready) return current();
  if (ready.status === "True") return current(ready.message || "Ready");
  if (ready.status === "False" && obj.status?.observedGeneration !== undefined) {
    return failed(`${ready.reason ?? "NotReady"}: ${ready.message ?? ""}`.trim());
  }
  return inProgress(`${ready.reason ?? "NotReady"}: ${ready.message ?? ""}`.trim());
}
