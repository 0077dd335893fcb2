// What the bot applied last time, per object: a hash of the desired manifest and the resourceVersion the API
// server gave the object right after. If both still match, neither Git nor anyone in the cluster changed the
// object since, and the (expensive) dry-run apply can be skipped: a no-op reconcile costs a LIST per kind.
// Any write to the object — a kubectl edit, a controller, a status update — changes its resourceVersion and
// sends it through the full dry-run comparison again, so drift is never missed.
import { createHash } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";

export interface Fingerprint {
  /** sha256 (truncated) of the desired object as applied. */
  h: string;
  /** metadata.resourceVersion of the live object after our apply. */
  rv: string;
}

export function desiredHash(obj: KubernetesObject): string {
  return createHash("sha256").update(JSON.stringify(obj)).digest("hex").slice(0, 20);
}

export function unchangedSince(
  previous: Fingerprint | undefined,
  desired: string,
  live: KubernetesObject | undefined,
): boolean {
  const rv = live?.metadata?.resourceVersion;
  return previous !== undefined && rv !== undefined && previous.h === desired && previous.rv === rv;
}
