// An image scan's result as Flux-shaped events, as image-reflector-controller reports it: one per
// ImageRepository ("successful scan: found N tags") and one per ImagePolicy ("Latest image tag for '…'
// resolved to …"), errors as such.
import type { PolicyScan, RepositoryScan } from "../images/scan.js";
import {
  createEvent,
  type EventMetadata,
  eventReasons,
  type RunEvent,
  reportingControllers,
} from "./events.js";

export function imageScanEvents(
  scan: { repositories: RepositoryScan[]; policies: PolicyScan[] },
  metadata?: EventMetadata,
): RunEvent[] {
  const event = (
    kind: string,
    o: { namespace: string; name: string },
    error: string | undefined,
    ok: string,
  ) =>
    ({
      type: "notice",
      event: createEvent({
        involvedObject: { kind, namespace: o.namespace, name: o.name },
        severity: error ? "error" : "info",
        reason: error ? eventReasons.reconciliationFailed : eventReasons.succeeded,
        message: error ?? ok,
        reportingController: reportingControllers.imageReflector,
        ...(metadata ? { metadata } : {}),
      }),
    }) satisfies RunEvent;
  return [
    ...scan.repositories.map((r) =>
      event("ImageRepository", r.repository, r.error, `successful scan: found ${r.tags.length} tags`),
    ),
    ...scan.policies.map((p) =>
      event(
        "ImagePolicy",
        p.policy,
        p.error,
        `Latest image tag for '${p.image ?? "?"}' resolved to ${p.tag ?? "nothing"}`,
      ),
    ),
  ];
}
