// Which Alerts an event reaches, as Flux's event server decides it: an Alert that is not suspended, whose
// inclusionList (when set) matches the message and whose exclusionList does not, and one of whose eventSources
// names the event's object — kind, namespace (the Alert's when not set), name or `*`, and with `*` the
// matchLabels against the object's labels — at a severity the Alert takes (`info` takes both). The event each
// Alert's Provider gets carries the Alert's metadata, with Flux's precedence from lowest to highest: the
// object's `event.toolkit.fluxcd.io/` annotations, the Alert's eventMetadata, its summary, the event's own
// metadata. Patterns are RE2 (re2js), as Flux's are Go regexps: linear time, whatever a repository writes.
import { RE2JS } from "re2js";
import { ManifestError } from "../flux/errors.js";
import type {
  AlertEventSource,
  FluxAlert,
  FluxNotificationObject,
  FluxProvider,
} from "../flux/notification.js";
import type { SecretReader } from "../util/secret-reader.js";
import { eventAnnotationPrefix, type NotifyEvent } from "./event.js";
import { providerFor, supportedProviderTypes } from "./providers/index.js";
import type { NotificationProvider } from "./providers/types.js";

export interface CompiledAlert {
  alert: FluxAlert;
  provider: FluxProvider;
  implementation: NotificationProvider;
  include: RE2JS[];
  exclude: RE2JS[];
}

/** The Providers and Alerts of one run (repository × cluster), checked and ready to route events. */
export interface NotificationSet {
  /** Names the run (`owner/repo:cluster`): queues and the rate limit are kept per scope. */
  scope: string;
  /** Reads the Providers' Secrets, with the run's rights. */
  secrets: SecretReader;
  alerts: CompiledAlert[];
  /** Objects that cannot be used, each naming the file, object and field; the rest still route. */
  errors: ManifestError[];
  crossNamespaceRefs: boolean;
}

export interface CompileOptions {
  scope: string;
  secrets: SecretReader;
  /** Whether eventSources may name another namespace than the Alert's (Flux --no-cross-namespace-refs). */
  crossNamespaceRefs?: boolean;
}

export interface Route {
  alert: FluxAlert;
  provider: FluxProvider;
  implementation: NotificationProvider;
  /** The event with the Alert's metadata, as this Provider gets it. */
  event: NotifyEvent;
  /** Why nothing is sent for this route (a suspended or served-elsewhere Provider). */
  skipped?: string;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

function compilePatterns(patterns: readonly string[] | undefined): RE2JS[] {
  // The parser compiled each pattern once already; one that fails here cannot happen, so it is not caught.
  return (patterns ?? []).map((pattern) => RE2JS.compile(pattern));
}

export function compileNotifications(
  objects: readonly FluxNotificationObject[],
  options: CompileOptions,
): NotificationSet {
  const errors: ManifestError[] = [];
  const crossNamespaceRefs = options.crossNamespaceRefs ?? true;
  const providers = new Map<string, { provider: FluxProvider; implementation?: NotificationProvider }>();
  for (const object of objects) {
    if (object.kind !== "Provider") continue;
    const where = { file: object.file, object: object.subject };
    if (providers.has(key(object.namespace, object.name))) {
      errors.push(
        new ManifestError({ ...where, field: "metadata.name" }, "is declared twice; the first is used"),
      );
      continue;
    }
    const implementation = providerFor(object.spec.type);
    if (!implementation) {
      errors.push(
        new ManifestError(
          { ...where, field: "spec.type" },
          `${JSON.stringify(object.spec.type)} is not supported by gitops-bot (supported: ${supportedProviderTypes.join(", ")})`,
        ),
      );
    }
    providers.set(key(object.namespace, object.name), { provider: object, implementation });
  }
  const alerts: CompiledAlert[] = [];
  for (const object of objects) {
    if (object.kind !== "Alert") continue;
    const where = { file: object.file, object: object.subject };
    const ref = object.spec.providerRef.name;
    const found = providers.get(key(object.namespace, ref));
    if (!found) {
      errors.push(
        new ManifestError(
          { ...where, field: "spec.providerRef.name" },
          `Provider/${object.namespace}/${ref} is not declared`,
        ),
      );
      continue;
    }
    if (!found.implementation) {
      errors.push(
        new ManifestError(
          { ...where, field: "spec.providerRef.name" },
          `${found.provider.subject} cannot be used (its spec.type is not supported)`,
        ),
      );
      continue;
    }
    if (!crossNamespaceRefs) {
      object.spec.eventSources.forEach((source, i) => {
        if (source.namespace && source.namespace !== object.namespace) {
          errors.push(
            new ManifestError(
              { ...where, field: `spec.eventSources[${i}].namespace` },
              "cross-namespace references are not allowed for this repository; events from there are not sent",
            ),
          );
        }
      });
    }
    alerts.push({
      alert: object,
      provider: found.provider,
      implementation: found.implementation,
      include: compilePatterns(object.spec.inclusionList),
      exclude: compilePatterns(object.spec.exclusionList),
    });
  }
  return { scope: options.scope, secrets: options.secrets, alerts, errors, crossNamespaceRefs };
}

function labelsMatch(wanted: Record<string, string> | undefined, labels: Record<string, string> | undefined) {
  if (!wanted) return true;
  return Object.entries(wanted).every(
    ([k, v]) => labels !== undefined && Object.hasOwn(labels, k) && labels[k] === v,
  );
}

/** Whether one eventSource of an Alert in `alertNamespace` names the event's object. */
export function sourceMatches(event: NotifyEvent, source: AlertEventSource, alertNamespace: string): boolean {
  const { kind, namespace, name } = event.involvedObject;
  if (kind !== source.kind || namespace !== (source.namespace ?? alertNamespace)) return false;
  // As in Flux, matchLabels only narrow a `*`.
  if (source.name === "*") return labelsMatch(source.matchLabels, event.labels);
  return source.name === name;
}

/** Whether the Alert takes the event: suspend, severity, inclusion and exclusion, then the event sources. */
export function alertMatches(
  event: NotifyEvent,
  compiled: CompiledAlert,
  crossNamespaceRefs = true,
): boolean {
  const { alert } = compiled;
  if (alert.spec.suspend) return false;
  if (!crossNamespaceRefs && event.involvedObject.namespace !== alert.namespace) return false;
  if (alert.spec.eventSeverity !== "info" && event.severity !== alert.spec.eventSeverity) return false;
  if (compiled.include.length > 0 && !compiled.include.some((re) => re.test(event.message))) return false;
  if (compiled.exclude.some((re) => re.test(event.message))) return false;
  return alert.spec.eventSources.some((source) => sourceMatches(event, source, alert.namespace));
}

/** The event as the Alert's Provider gets it: the Alert's metadata merged in with Flux's precedence. */
export function enrichEvent(event: NotifyEvent, alert: FluxAlert): NotifyEvent {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.annotations ?? {})) {
    if (k.startsWith(eventAnnotationPrefix) && k.length > eventAnnotationPrefix.length) {
      metadata[k.slice(eventAnnotationPrefix.length)] = v;
    }
  }
  Object.assign(metadata, alert.spec.eventMetadata ?? {});
  if (alert.spec.summary) metadata.summary = alert.spec.summary;
  Object.assign(metadata, event.metadata);
  return { ...event, metadata };
}

/** Every Alert the event reaches, once each, with the event its Provider gets. */
export function routeEvent(event: NotifyEvent, set: NotificationSet): Route[] {
  const routes: Route[] = [];
  for (const compiled of set.alerts) {
    if (!alertMatches(event, compiled, set.crossNamespaceRefs)) continue;
    const { alert, provider, implementation } = compiled;
    const skipped = provider.spec.suspend
      ? `${provider.subject} is suspended`
      : implementation.servedBy
        ? `${provider.subject} (type ${provider.spec.type}) is ${implementation.servedBy}`
        : undefined;
    routes.push({
      alert,
      provider,
      implementation,
      event: enrichEvent(event, alert),
      ...(skipped ? { skipped } : {}),
    });
  }
  return routes;
}
