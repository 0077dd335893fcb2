// Per-object status contexts name an object by name (`gitops/dev/apps`), or by namespace/name where two of the
// same kind share a name. Labels are given once per run and kept: a context written pending is the context
// written final, whatever objects the run's result adds (Kustomizations removed from Git).
import type { InvolvedObject } from "../../reconcile/events.js";
import { subjectOf } from "../../reconcile/events.js";

export class ObjectLabels {
  private readonly bySubject = new Map<string, string>();
  private readonly taken = new Set<string>();

  /** Labels for `objects` not labelled yet: by name unless the name is ambiguous among them or taken. */
  add(objects: InvolvedObject[]): void {
    const fresh = objects.filter((o) => !this.bySubject.has(subjectOf(o)));
    const count = new Map<string, number>();
    const nameKey = (o: InvolvedObject) => `${o.kind}:${o.name}`;
    for (const o of fresh) count.set(nameKey(o), (count.get(nameKey(o)) ?? 0) + 1);
    for (const o of fresh) {
      const byName = `${o.kind}:${o.name}`;
      const label =
        (count.get(nameKey(o)) ?? 0) > 1 || this.taken.has(byName) ? `${o.namespace}/${o.name}` : o.name;
      this.taken.add(`${o.kind}:${label}`);
      this.bySubject.set(subjectOf(o), label);
    }
  }

  get(object: InvolvedObject): string {
    const label = this.bySubject.get(subjectOf(object));
    if (label !== undefined) return label;
    this.add([object]);
    return this.bySubject.get(subjectOf(object)) ?? object.name;
  }
}
