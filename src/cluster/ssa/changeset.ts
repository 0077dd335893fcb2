// What an operation did (or, in a dry run, would do) to each object, per Flux's ssa ChangeSet.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Drift } from "./drift.js";
import { objectId, subjectOf } from "./object-id.js";

export type Action = "created" | "configured" | "unchanged" | "deleted" | "skipped";

export interface ChangeSetEntry {
  /** `namespace_name_group_kind` */
  id: string;
  /** `Kind/namespace/name` */
  subject: string;
  apiVersion: string;
  action: Action;
  /** Why an object was skipped (ssa: Ignore, prune: disabled, ...). */
  reason?: string;
  /** For dry runs of changed objects: a readable YAML diff, Secret values masked. */
  diff?: string;
  /** The live object differed from Git though Git did not change it (drift.ts); `diff` shows the values. */
  drift?: Drift;
}

export class ChangeSet {
  readonly entries: ChangeSetEntry[] = [];

  add(
    obj: KubernetesObject,
    action: Action,
    extra: { reason?: string; diff?: string; drift?: Drift } = {},
  ): ChangeSetEntry {
    const entry: ChangeSetEntry = {
      id: objectId(obj),
      subject: subjectOf(obj),
      apiVersion: obj.apiVersion ?? "",
      action,
      ...extra,
    };
    this.entries.push(entry);
    return entry;
  }

  append(other: ChangeSet): void {
    this.entries.push(...other.entries);
  }

  count(action: Action): number {
    return this.entries.filter((e) => e.action === action).length;
  }

  /** True when applying would change the cluster. */
  hasChanges(): boolean {
    return this.entries.some(
      (e) => e.action === "created" || e.action === "configured" || e.action === "deleted",
    );
  }

  /** "3 created, 12 configured, 1 deleted" — unchanged counts only when nothing else happened. */
  summary(): string {
    const parts = (["created", "configured", "deleted", "skipped"] as const)
      .map((a) => [a, this.count(a)] as const)
      .filter(([, n]) => n > 0)
      .map(([a, n]) => `${n} ${a}`);
    const unchanged = this.count("unchanged");
    if (parts.length === 0) return unchanged > 0 ? `${unchanged} unchanged` : "no objects";
    return parts.join(", ");
  }
}
