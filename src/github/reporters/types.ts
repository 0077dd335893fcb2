// What a reporter is: a subscriber to a run's event stream that turns events into one kind of report (commit
// statuses, the check run, the PR comment, a deployment, log lines). Reporters do not write to GitHub
// themselves: they put their writes into the stream's plan (planned-writes.ts), which sends the most important
// first, drops intermediate states that were overtaken, and never sends what is already there.
import type { Logger } from "pino";
import type { GitOpsMetrics } from "../../metrics/metrics.js";
import type { RunEvent } from "../../reconcile/events.js";
import type { GitHubClient, RepoRef } from "../client.js";
import type { RunNotifications } from "./notification.js";
import type { PlannedWrites } from "./planned-writes.js";

/** Where a stream's reports go, and what they may say. */
export interface ReportTarget {
  github: GitHubClient;
  repo: RepoRef;
  /** The commit the reports are about (a push's commit, a pull request's head). */
  sha: string;
  log: Logger;
  /** `push`: a reconcile (gitops/<cluster>, check run, deployment); `pull-request`: a dry-run (gitops/diff/*, comment). */
  kind: "push" | "pull-request";
  /** Per cluster: the check run the push job created (queued), if any. */
  checkRuns?: Record<string, number>;
  /** Per cluster: the GitHub environment it is bound to (a deployment is recorded). */
  environments?: Record<string, string>;
  pullRequest?: { number: number; baseSha: string; failOnPrune: boolean };
  /** The operator asked for pending statuses per Kustomization and HelmRelease while they reconcile. */
  pendingStatuses: boolean;
  /** A reconcile of the branch the bot applies: its Providers and Alerts (never set for a pull request). */
  notifications?: RunNotifications;
  /** The process's metrics: run results are recorded. */
  metrics?: GitOpsMetrics;
}

/** One event of the stream, with the cluster it is about. */
export interface StreamEvent {
  cluster: string;
  event: RunEvent;
}

export interface Reporter {
  /** Called for every event, in order; the next event waits until this one's promise settles. */
  on(event: StreamEvent): void | Promise<void>;
  /** The stream closes: the run is over. Write what was held back (the PR comment covers all clusters). */
  close?(): void | Promise<void>;
}

export interface ReporterContext {
  target: ReportTarget;
  plan: PlannedWrites;
}

/** Makes a stream's reporter, or undefined where it has nothing to report (no environment, no PR). */
export type ReporterFactory = (context: ReporterContext) => Reporter | undefined;
