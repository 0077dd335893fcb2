// The one interface the run loop schedules: a kind of Flux object (Kustomization, HelmRelease) that knows its
// planned objects, their dependencies and how to reconcile one. The loop (run.ts) orders and bounds the work and
// emits the events; what reconciling means is each reconciler's business, registered in reconcilers.ts.
import type { RawObjectApi } from "../cluster/kube-client.js";
import type { SourceResolver } from "../source/resolver.js";
import type { ObjectResult } from "./events.js";
import type { ReconcileOptions } from "./options.js";
import type { TreePlan } from "./plan.js";
import type { HelmReleaseResult, KustomizationResult } from "./result.js";
import type { Suspension } from "./suspension.js";

export type ReconcilerKind = ObjectResult["kind"];
export type ObjectOutcome = KustomizationResult | HelmReleaseResult;

export interface Reconciler<P = unknown, R extends ObjectOutcome = ObjectOutcome> {
  readonly kind: ReconcilerKind;
  /** The planned objects of this kind, in plan order. */
  planned(plan: TreePlan): P[];
  /** The object's key in the run's dependency graph (what `dependsOn` and `parent` name). */
  key(planned: P): string;
  object(planned: P): { namespace: string; name: string };
  /** Keys of the objects it declares it depends on (some may be absent from the plan). */
  dependsOn(planned: P): string[];
  /** The key of the object whose build contained it: it is reconciled after that one. */
  parent(planned: P): string | undefined;
  /** Why the tenancy policy refuses it, when it does: reported without waiting for its dependencies. */
  refused(planned: P): string | undefined;
  /** Whether its dependents also wait for the objects its build contained (Kustomization `wait: true`). */
  waitsForChildren(planned: P): boolean;
  /** Reconciles one object. May throw: the loop turns that into a failed result of this object only. */
  reconcile(planned: P): Promise<R>;
  failed(planned: P, message: string): R;
  dependencyNotReady(planned: P, message: string): R;
  /** Removes what this scope made for objects of this kind that left Git; `error` fails the run. */
  pruneRemoved(present: P[]): Promise<{ results: R[]; error?: string }>;
  /** Releases what the run held (helm sessions). */
  cleanup?(): void;
}

/** What a reconciler of one run is made from. */
export interface ReconcilerContext {
  /** The bot's own API client for the cluster. */
  api: RawObjectApi;
  /** The run's sources (fetched once each). */
  resolver: SourceResolver;
  options: ReconcileOptions;
  /** Kustomizations suspended with `/gitops suspend` (suspension.ts), by `namespace/name`: left alone. */
  suspended: ReadonlyMap<string, Suspension>;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds reconcilers of different planned types; each is typed where it is made.
export type AnyReconciler = Reconciler<any>;

export type ReconcilerFactory = (context: ReconcilerContext) => AnyReconciler;

/** The events' `{ kind, result }` pair of a reconciler's result. */
export function outcomeOf(kind: ReconcilerKind, result: ObjectOutcome): ObjectResult {
  return kind === "Kustomization"
    ? { kind, result: result as KustomizationResult }
    : { kind, result: result as HelmReleaseResult };
}
