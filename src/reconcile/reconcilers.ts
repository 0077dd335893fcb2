// Every kind the run loop reconciles, by kind: the one place a reconciler is registered. Order matters twice:
// results list them in this order, and Kustomizations that left Git are pruned before Helm releases.
import { helmReleaseReconciler } from "./helm-release-reconciler.js";
import { kustomizationReconciler } from "./kustomization-reconciler.js";
import type { ReconcilerFactory, ReconcilerKind } from "./reconciler.js";

export const RECONCILERS = {
  Kustomization: kustomizationReconciler,
  HelmRelease: helmReleaseReconciler,
} satisfies Record<ReconcilerKind, ReconcilerFactory>;
