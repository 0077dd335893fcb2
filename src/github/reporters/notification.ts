// Flux's notifications from the stream: each Kustomization's and HelmRelease's outcome (and a run that failed as
// a whole) becomes a Flux event, routed by the run's Alerts to their Providers (src/notify). Only a reconcile of
// the branch the bot applies carries a RunNotifications: the Providers and Alerts are read from that branch's
// tree once it is planned, never from a pull request's, and a dry-run sends nothing (a fork could point a
// Provider with a secretRef at its own server). Delivery is the notifier's: notify() returns at once.
import type { Notifier } from "../../notify/deliver.js";
import { createEvent, type NotifyEvent } from "../../notify/event.js";
import type { NotificationSet } from "../../notify/routing.js";
import type { ReconcileEvent } from "../../reconcile/events.js";
import type { ObjectMetadata } from "../../reconcile/plan.js";
import type { ReporterContext, ReporterFactory, StreamEvent } from "./types.js";

/** What a run's notification reporter routes with: the process's notifier, and per cluster the compiled set. */
export interface RunNotifications {
  notifier: Notifier;
  /** Per cluster, set once its tree is planned: the reconciled branch's Providers and Alerts. */
  sets: Map<string, NotificationSet>;
  /** Per cluster: labels and annotations of the run's Kustomizations and HelmReleases, by subject. */
  objects: Map<string, Map<string, ObjectMetadata>>;
}

export function runNotifications(notifier: Notifier): RunNotifications {
  return { notifier, sets: new Map(), objects: new Map() };
}

/** The stream's Flux event as the notification library takes it, with the object's labels and annotations. */
export function notifyEventOf(event: ReconcileEvent, meta: ObjectMetadata | undefined): NotifyEvent {
  return createEvent({
    involvedObject: event.involvedObject,
    severity: event.severity,
    reason: event.reason,
    message: event.message,
    reportingController: event.reportingController,
    metadata: event.metadata,
    timestamp: event.timestamp,
    ...(meta?.labels ? { labels: meta.labels } : {}),
    ...(meta?.annotations ? { annotations: meta.annotations } : {}),
  });
}

/** The events Flux's controllers would send: outcomes, and a run that failed before or beyond its objects. */
function notifiable(event: StreamEvent["event"]): boolean {
  switch (event.type) {
    case "object-finished":
    case "notice":
      return true;
    case "run-finished":
      return event.result.errors.length > 0;
    case "run-stopped":
      return event.conclusion === "failure";
    default:
      return false;
  }
}

export const notificationReporter: ReporterFactory = ({ target }: ReporterContext) => {
  const notifications = target.notifications;
  if (target.kind !== "push" || !notifications) return undefined;
  return {
    on: ({ cluster, event }: StreamEvent) => {
      if (!notifiable(event)) return;
      // No set: the tree was never planned (not fetched, not readable), so it declared no Alert the bot knows.
      const set = notifications.sets.get(cluster);
      if (!set || set.alerts.length === 0) return;
      const e = event.event;
      const subject = `${e.involvedObject.kind}/${e.involvedObject.namespace}/${e.involvedObject.name}`;
      notifications.notifier.notify(notifyEventOf(e, notifications.objects.get(cluster)?.get(subject)), set);
    },
  };
};

/** The check run's section on Providers and Alerts that cannot be used (each names file, object and field). */
export function notificationErrorsSection(set: NotificationSet | undefined): string {
  if (!set || set.errors.length === 0) return "";
  const lines = set.errors.map((e) => `- ${e.message.replaceAll("\n", " ")}`);
  return `\n### Notifications\n\nThese Providers and Alerts are not used (the others are):\n\n${lines.join("\n")}\n`;
}
