// Notifications: Flux's Provider and Alert objects, served by gitops-bot. The public surface for whoever wires
// events in (docs/notifications.md has the API with an example):
//   createEvent(...)                      a Flux-shaped event about one object
//   readNotificationObjects(sourced)      the Providers and Alerts among a run's objects, parsed one by one
//   compileNotifications(objects, {...})  the run's Providers and Alerts, checked (errors name file/object/field)
//   createNotifier({ policy, log })       one per process; notifier.notify(event, set) returns at once
export {
  createNotifier,
  type DeliveryOutcome,
  type DeliveryResult,
  type DispatchSummary,
  defaultRetryPolicy,
  type Notifier,
  type NotifierOptions,
  type RetryPolicy,
} from "./deliver.js";
export { DeliveryError } from "./errors.js";
export {
  createEvent,
  type EventInput,
  type EventReason,
  type EventSeverity,
  eventReasons,
  eventSubject,
  eventTimestamp,
  type FluxEventPayload,
  fluxEventPayload,
  type InvolvedObject,
  metadataKeys,
  type NotifyEvent,
  reportingControllers,
} from "./event.js";
export { notificationProviders, providerFor, supportedProviderTypes } from "./providers/index.js";
export { defaultRateLimitWindowMs, eventKey } from "./rate-limit.js";
export { type NotificationObjects, readNotificationObjects } from "./read-objects.js";
export {
  type CompileOptions,
  compileNotifications,
  enrichEvent,
  type NotificationSet,
  type Route,
  routeEvent,
} from "./routing.js";
export { defaultProviderTimeoutMs } from "./settings.js";
