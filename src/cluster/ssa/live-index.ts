// The live objects of an apply, read with one paginated LIST per (apiVersion, kind, namespace) instead of one
// GET per object: a thousand ConfigMaps in a namespace cost two requests, not a thousand. A run of many small
// Kustomizations shares its LISTs across them (SharedLiveLists): a hundred Kustomizations of four objects in one
// namespace cost four LISTs, not four hundred GETs.
import type { KubernetesObject } from "@kubernetes/client-node";
import { mapLimit } from "../../reconcile/concurrency.js";
import type { RawObjectApi } from "../kube-client.js";
import { objectId } from "./object-id.js";
import { getLive } from "./read.js";

/** Below this many objects of one kind in one namespace, a GET each is cheaper than a LIST of everything there. */
const LIST_THRESHOLD = 4;
const PAGE_SIZE = 500;

/** `apiVersion|kind|namespace`: the objects one LIST reads. */
function groupKey(o: KubernetesObject, namespace = o.metadata?.namespace ?? ""): string {
  return `${o.apiVersion}|${o.kind}|${namespace}`;
}

/** Kinds never listed: listing Secrets would read every Secret in the namespace (Helm keeps its releases there). */
function neverListed(o: KubernetesObject): boolean {
  return o.kind === "Secret" && o.apiVersion === "v1";
}

/**
 * Every live object of the sample's kind in its namespace (all of them for a cluster-scoped kind), by id, keeping
 * only those `keep` accepts. Undefined when the kind cannot be listed that way (unknown to the API server, or a
 * namespaced object without a namespace). Throws when the LIST fails.
 */
async function listGroup(
  api: RawObjectApi,
  sample: KubernetesObject,
  keep: (id: string) => boolean,
): Promise<Map<string, KubernetesObject> | undefined> {
  if (!sample.apiVersion || !sample.kind) return undefined;
  const namespace = sample.metadata?.namespace;
  const namespaced = await api.isNamespaced(sample.apiVersion, sample.kind).catch(() => undefined);
  // Unknown kinds (a CRD applied in this run) and namespaced objects without a namespace are read one by one.
  if (namespaced === undefined || (namespaced && !namespace)) return undefined;
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
      const id = objectId(live);
      if (keep(id)) found.set(id, live);
    }
    // The raw wire form (RawObjectApi) spells it `continue`; client-node's model class says `_continue`.
    const meta = page.metadata as { continue?: string; _continue?: string } | undefined;
    continueToken = meta?.continue || meta?._continue || undefined;
  } while (continueToken);
  return found;
}

/**
 * A group listed run-wide keeps all its live objects when it has at most this many: Kustomizations planned after
 * the LIST (a run applies each as soon as it is built) find theirs in it too. A larger group keeps only what was
 * demanded when it was listed, and the later ones are read one by one.
 */
const KEEP_WHOLE_GROUP = 1_000;

/**
 * How long a whole group's LIST answers for objects demanded after it: the rest of a tree's build, not minutes
 * (an object created or edited since would be read as absent or unchanged; `ssa: IfNotPresent` overwritten).
 */
const LATE_ANSWER_MS = 30_000;

interface Listed {
  objects: Map<string, KubernetesObject>;
  /** Every live object of the group is in `objects` (else only those demanded when it was listed). */
  whole: boolean;
  /** The ids demanded when it was listed. */
  demanded: Set<string>;
  /** When the LIST was read (Date.now()). */
  at: number;
}

/**
 * LISTs shared by the applies of one run made as one identity (never share them across identities: a
 * Kustomization's ServiceAccount must not learn what only another one may read). The demand is what the run's
 * Kustomizations will apply, given as they are planned (`want`); a group is listed (once, when an apply first
 * needs it) when it holds at least LIST_THRESHOLD of them.
 */
export class SharedLiveLists {
  private readonly wanted = new Map<string, Set<string>>();
  private readonly lists = new Map<string, Promise<Listed | undefined>>();

  /**
   * `demand`: the objects of the run as built, with the namespace their Kustomization defaults them to when
   * they have none (they are counted cluster-scoped too, as the API server may say they are).
   */
  constructor(
    private readonly api: RawObjectApi,
    demand: Iterable<{ object: KubernetesObject; defaultNamespace: string }> = [],
  ) {
    this.want(demand);
  }

  /** More of the run's objects (a Kustomization planned since): counted as the constructor's demand is. */
  want(demand: Iterable<{ object: KubernetesObject; defaultNamespace: string }>): void {
    const add = (o: KubernetesObject, namespace: string) => {
      const key = groupKey(o, namespace);
      const id = objectId({ ...o, metadata: { ...o.metadata, namespace } });
      const ids = this.wanted.get(key) ?? new Set<string>();
      ids.add(id);
      this.wanted.set(key, ids);
    };
    for (const { object, defaultNamespace } of demand) {
      if (neverListed(object)) continue;
      const namespace = object.metadata?.namespace;
      if (namespace) add(object, namespace);
      else {
        add(object, defaultNamespace);
        add(object, "");
      }
    }
  }

  /**
   * What the run-wide LIST of the sample's group knows: `get(obj)` is the live object, null when it is known
   * absent, undefined when the LIST cannot tell (not listed, or the object was demanded after it and the LIST
   * kept part of the group, or is older than LATE_ANSWER_MS).
   */
  async group(
    sample: KubernetesObject,
  ): Promise<((obj: KubernetesObject) => KubernetesObject | null | undefined) | undefined> {
    const key = groupKey(sample);
    let list = this.lists.get(key);
    if (!list) {
      const ids = this.wanted.get(key);
      if (!ids || ids.size < LIST_THRESHOLD) return undefined;
      const demanded = new Set(ids);
      let items = 0;
      // Not allowed to list (RBAC scoped to names), or the kind went away: every apply falls back to GETs.
      list = listGroup(this.api, sample, (id) => ++items <= KEEP_WHOLE_GROUP || demanded.has(id))
        .then((objects) => {
          if (!objects) return undefined;
          const whole = items <= KEEP_WHOLE_GROUP;
          if (!whole) for (const id of [...objects.keys()]) if (!demanded.has(id)) objects.delete(id);
          return { objects, whole, demanded, at: Date.now() };
        })
        .catch(() => undefined);
      this.lists.set(key, list);
    }
    const listed = await list;
    if (!listed) return undefined;
    return (obj) => {
      const id = objectId(obj);
      const late = !listed.demanded.has(id);
      if (late && (!listed.whole || Date.now() - listed.at > LATE_ANSWER_MS)) return undefined;
      return listed.objects.get(id) ?? null;
    };
  }
}

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
    shared?: SharedLiveLists,
  ): Promise<LiveIndex> {
    const groups = new Map<string, KubernetesObject[]>();
    for (const o of objects) {
      const key = groupKey(o);
      groups.set(key, [...(groups.get(key) ?? []), o]);
    }
    const listed = new Map<string, KubernetesObject | null>();
    await mapLimit([...groups.values()], concurrency, async (members) => {
      const sample = members[0];
      if (!sample || neverListed(sample)) return;
      const run = await shared?.group(sample);
      if (run) {
        let all = true;
        for (const m of members) {
          const live = run(m);
          if (live === undefined) all = false;
          else listed.set(objectId(m), live);
        }
        if (all) return;
      }
      if (members.length < LIST_THRESHOLD) return;
      try {
        const found = await listGroup(api, sample, () => true);
        if (found) for (const m of members) listed.set(objectId(m), found.get(objectId(m)) ?? null);
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
