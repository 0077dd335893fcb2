// Timers that outlive one run: periodic reconciles and image scans. The process hands each timer to a `Timers`
// and is called back when it fires. In one process the in-memory timers are the default; with several
// replicas a shared implementation (Redis: BullMQ job schedulers) fires each timer once cluster-wide, whichever
// replica set it. Payloads are plain JSON for that reason; a timer is named by a stable id, so setting it again
// replaces it (a new interval after a failure, or a repository re-read) rather than adding a second one.

export interface TimerSpec<P> {
  /** Stable name, e.g. `reconcile:github.com/acme/fleet:clusters/dev:Kustomization/flux-system/apps`. */
  id: string;
  /** Time between two firings, in milliseconds (already clamped by the caller to the operator's floor). */
  everyMs: number;
  /** The first firing comes after this delay; default `everyMs`. */
  firstInMs?: number;
  payload: P;
}

/** Called each time a timer fires. A handler that throws is logged by the implementation; the timer stays. */
export type TimerHandler<P> = (payload: P, id: string) => Promise<void>;

export interface Timers<P> {
  /** Creates the timer or replaces the one with the same id (its interval, first delay and payload). */
  set(spec: TimerSpec<P>): Promise<void>;
  /** Removes a timer; unknown ids are ignored. */
  clear(id: string): Promise<void>;
  /** Every timer set and not cleared (across replicas, for a shared implementation). */
  list(): Promise<Array<Omit<TimerSpec<P>, "firstInMs">>>;
  /** Stops firing (this replica); waits for handlers that are running. */
  close(): Promise<void>;
}
