// What a run is asked to do: the options every reconciler of the run reads, and the progress events it tells.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { DEFAULT_APPLY_CONCURRENCY } from "../cluster/ssa/apply-defaults.js";
import type { DriftMode } from "../cluster/ssa/drift.js";
import type { CreatedInChange } from "../cluster/ssa/pending-definitions.js";
import type { WaitProgress } from "../cluster/ssa/wait.js";
import type { HelmLimits } from "../helm/helm-cli.js";
import type { OutboundPolicy } from "../util/outbound/index.js";
import type { EventMetadata, RunEventSink } from "./events.js";
import { defaultPlanOptions, type PlanOptions } from "./plan.js";
import type { KustomizationResult } from "./result.js";

export type ProgressEvent =
  /** `keys`: `namespace/name` of every Kustomization and HelmRelease the run will reconcile. */
  | { type: "planned"; kustomizations: number; keys?: { kustomizations: string[]; helmReleases: string[] } }
  /** `kustomization` is the object's `namespace/name`; `kind` says whether it is a Kustomization or a HelmRelease. */
  | { type: "started"; kustomization: string; kind?: "Kustomization" | "HelmRelease" }
  | { type: "applied"; kustomization: string; summary: string }
  | { type: "waiting"; kustomization: string; objects: number }
  /** A health poll that left objects unhealthy (the CLI's status line). */
  | { type: "health"; kustomization: string; progress: WaitProgress }
  | { type: "finished"; kustomization: string; status: KustomizationResult["status"] };

export interface ReconcileOptions extends PlanOptions {
  repoDir: string;
  dryRun: boolean;
  /** Produce YAML diffs for changed objects (dry runs). */
  withDiff: boolean;
  /** Which repository and cluster path this run stands for; inventories from another scope are not touched. */
  scope: string;
  /** Kustomizations reconciled at once. */
  concurrency: number;
  /** API requests in flight at once, per Kustomization. */
  applyConcurrency: number;
  /** Skip health checks even where the Kustomization asks for them (e.g. a quick CLI run). */
  skipHealth: boolean;
  onProgress?: (event: ProgressEvent) => void;
  /** The run's event stream (see events.ts): reporters subscribe here. A sink that throws is ignored. */
  onEvent?: RunEventSink;
  /** Revision, commit, cluster and repository, put on every event of the run. */
  eventMetadata?: EventMetadata;
  /**
   * The tree comes from someone who may not read the cluster's Secrets (a pull request from a fork): no Secret
   * is read — not for substitution, source credentials or Helm values — so none can be sent elsewhere or shown.
   */
  untrusted?: boolean;
  /** What a drifted object gets (operator cluster `drift`): put back (`correct`, the default) or `report` only. */
  drift?: DriftMode;
  /** API servers a Kustomization's spec.kubeConfig.secretRef may name (operator `security.remoteClusters`). */
  remoteClusters?: string[];
  /** The longest one source fetch may take, whatever its spec.timeout says (operator `security.maxSourceTimeout`). */
  maxSourceTimeoutMs?: number;
  /** Which hosts sources may reach (operator `security.outbound`). */
  outbound?: OutboundPolicy;
  /** Bounds on every helm command (operator `security.maxBuildTime`). */
  helmLimits?: Partial<HelmLimits>;
  log?: Logger;
  /** The cluster's KubeConfig, for the helm binary; default: the one `api` was made from. */
  kubeConfig?: KubeConfig;
  /**
   * What started this run: a push (or its redelivery), the schedule (spec.interval, a source's new revision) or a
   * `/gitops` command. Default `push`.
   */
  trigger?: ReconcileTrigger;
  /**
   * Whether the Git revision differs from the one the previous run of this repository × cluster applied
   * (scheduled runs know; a push always counts as changed). Undefined: not known.
   */
  gitChanged?: boolean;
  /**
   * Set by the run from its plan (dry runs): the namespaces and CRDs the whole change declares, so a
   * Kustomization's preview knows what another Kustomization of the change would create first.
   */
  createdInChange?: CreatedInChange;
}

export type ReconcileTrigger = "push" | "schedule" | "command";

export function defaultReconcileOptions(repoDir: string, clusterPath: string): ReconcileOptions {
  return {
    ...defaultPlanOptions(clusterPath),
    repoDir,
    dryRun: false,
    withDiff: false,
    scope: clusterPath.replace(/^\.\//, "").replace(/\/$/, ""),
    concurrency: 4,
    applyConcurrency: DEFAULT_APPLY_CONCURRENCY,
    skipHealth: false,
  };
}
