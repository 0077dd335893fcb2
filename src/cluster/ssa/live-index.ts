// The live objects of an apply, read with one paginated LIST per (apiVersion, kind, namespace) instead of one
// GET per object: a thousand ConfigMaps in a namespace cost two requests, not a thousand.
import type { KubernetesObject } from "@kubernetes/client-node";
import { mapLimit } from "../../reconcile/concurrency.js";
import type { RawObjectApi } from "../kube-client.js";
import { objectId } from "./object-id.js";
import { getLive } from "./read.js";

/** Below this many objects of one kind in one namespace, a GET each is cheaper than a LIST of everything there. */
const LIST_THRESHOLD = 4;
const PAGE_SIZE = 500;

export class LiveIndex {
  private constructor(
    private readonly api: RawObjectApi,
    /** id → live object (or null: listed and absent) for the groups that were listed. */
    private readonly listed: Map<string, KubernetesObject | null>,
  ) {}

  static async prefetch(
    api: RawObjectApi,
    objects: KubernetesObject[],
    concurrency: number,
  ): Promise<LiveIndex> {
    const groups = new Map<string, KubernetesObject[]>();
    for (const o of objects) {
      const key = `${o.apiVersion}|${o.kind}|${o.metadata?.namespace ?? ""}`;
      groups.set(key, [...(groups.get(key) ?? []), o]);
    }
    const listed = new Map<string, KubernetesObject | null>();
    await mapLimit([...groups.values()], concurrency, async (members) => {
      const sample = members[0];
      if (!sample?.apiVersion || !sample.kind || members.length < LIST_THRESHOLD) return;
      // Secrets are read one by one: listing them would read every Secret in the namespace (Helm keeps its
      // releases there), which costs memory and reads more secrets than the bot needs.
      if (sample.kind === "Secret" && sample.apiVersion === "v1") return;
      const namespace = sample.metadata?.namespace;
      const namespaced = await api.isNamespaced(sample.apiVersion, sample.kind).catch(() => undefined);
      // Unknown kinds (a CRD applied in this run) and namespaced objects without a namespace are read one by one.
      if (namespaced === undefined || (namespaced && !namespace)) return;
      try {
        const found = new Map<string, KubernetesObject>();
        let continueToken: string | undefined;
        do {
          const page = await api.list(
            sample.apiVersion,
            sample.kind,
            namespaced ? namespace : undefined,
            undefined,
            undefined,
            undefined,
            undefined,
            undefined,
            PAGE_SIZE,
            continueToken,
          );
          for (const item of page.items) {
            // LIST items carry no apiVersion/kind of their own.
            const live = { apiVersion: sample.apiVersion, kind: sample.kind, ...item };
            found.set(objectId(live), live);
          }
          // The raw wire form (RawObjectApi) spells it `continue`; client-node's model class says `_continue`.
          const meta = page.metadata as { continue?: string; _continue?: string } | undefined;
          continueToken = meta?.continue || meta?._continue || undefined;
        } while (continueToken);
        for (const m of members) listed.set(objectId(m), found.get(objectId(m)) ?? null);
      } catch {
        // Not allowed to list (RBAC scoped to names), or the kind went away: fall back to GETs.
      }
    });
    return new LiveIndex(api, listed);
  }

  /** The live object, or undefined when it does not exist. */
  async get(obj: KubernetesObject): Promise<KubernetesObject | undefined> {
    const known = this.listed.get(objectId(obj));
    if (known !== undefined) return known ?? undefined;
    return getLive(this.api, obj);
  }
}
