// The bot's Prometheus metrics: one prom-client Registry per process (made by the entry point and passed down,
// never a global), the metric definitions, and a small typed API that turns the engine's results and the
// queue's, GitHub's and Kubernetes' events into series. Three families:
// - Flux's own names (gotk_*), with the labels flux2-monitoring-example's kube-state-metrics config produces,
//   so Flux's Grafana dashboards work on the bot unchanged;
// - controller-runtime's names where the bot does the same thing (reconciles, the work queue);
// - gitops_bot_* for what Flux has no name for (GitHub deliveries and rate limits, previews, image PRs).
// Every series about a cluster carries `cluster` (the operator's name for it).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { HelmReleaseResult, KustomizationResult, RunResult, SourceResult } from "../reconcile/result.js";
import { FLUX_KINDS, type FluxKind, isFluxKind } from "./flux-kinds.js";
import { FluxSeries, type INFO_LABELS } from "./flux-series.js";
import { boundedToken, parseSourceRef } from "./labels.js";

export interface RunMeta {
  /** The operator's name for the cluster. */
  cluster: string;
  /** `owner/repo` the run came from. */
  repository: string;
  /** The Git revision applied, Flux-style (`main@sha1:…`); gotk_resource_info's `revision` for Kustomizations. */
  revision?: string;
  /** The name Flux would give the repository's GitRepository (`source_name`); default: the repository. */
  sourceName?: string;
  /**
   * How often this cluster and repository are expected to reconcile (the alert "nothing reconciled for two
   * intervals" reads it). Default: DEFAULT_RECONCILE_INTERVAL_SECONDS.
   */
  intervalSeconds?: number;
}

/** The expected reconcile interval when the caller names none: Flux's common `interval: 1h`. */
export const DEFAULT_RECONCILE_INTERVAL_SECONDS = 3600;

export interface SourceFetch {
  cluster: string;
  kind: string;
  name: string;
  namespace: string;
  url?: string;
  revision?: string;
  seconds: number;
  ok: boolean;
}

export interface ImageScan {
  /** The cluster the automation belongs to, where one does (image automations are per repository). */
  cluster?: string;
  repository: { name: string; namespace: string; image?: string };
  policies: { name: string; namespace: string; ready: boolean }[];
  seconds: number;
  ok: boolean;
  /** Tags the registry listed for the image. */
  tags: number;
}

/** The shape of images/scan.ts's ScanResult that metrics read (structural: metrics does not import images/). */
export interface ImageScanResultLike {
  repositories: {
    repository: { name: string; namespace: string; spec: { image: string } };
    tags: readonly string[];
    error?: string;
  }[];
  policies: {
    policy: {
      name: string;
      namespace: string;
      spec: { imageRepositoryRef: { name: string; namespace?: string } };
    };
    tag?: string;
    error?: string;
  }[];
}

export interface GitHubRequest {
  /** A bounded route class, see `githubRouteClass`. */
  route: string;
  status: number | "error";
  installation?: number;
  rateLimitRemaining?: number;
  rateLimitLimit?: number;
}

export interface KubeRequest {
  cluster: string;
  verb: string;
  code: string;
  seconds: number;
}

type Ready = "True" | "False" | "Unknown";

type InfoLabels = Partial<Record<(typeof INFO_LABELS)[number], string>>;

const CHANGE_ACTIONS: Record<string, string> = {
  created: "created",
  configured: "configured",
  unchanged: "unchanged",
  deleted: "pruned",
  skipped: "skipped",
};

export interface MetricsOptions {
  /** prom-client's process metrics (CPU, memory, event loop, GC). Default: true. */
  defaultMetrics?: boolean;
}

export class GitOpsMetrics {
  /** Everything but the per-object Flux series. */
  readonly registry = new Registry();
  /** The per-object Flux series (gotk_*), per cluster, their text kept between changes. */
  private readonly flux = new FluxSeries();
  /** Last gotk_resource_info labels per object, so a changed revision or readiness replaces its series. */
  private readonly infoSeries = new Map<string, InfoLabels>();
  /** Objects each (cluster, repository) reported last time, so objects that left Git lose their series. */
  private readonly reported = new Map<string, Set<string>>();
  /** Server URL → the operator's cluster name, for Kubernetes request metrics. */
  readonly kubeClusters = new Map<string, string>();
  private readonly deliveryEvents = new Map<string, string>();

  // Flux's names.
  // controller-runtime's names.
  private readonly reconcileTotal: Counter<string>;
  private readonly reconcileErrors: Counter<string>;
  private readonly reconcileTime: Histogram<string>;
  private readonly workqueueDepth: Gauge<string>;
  private readonly workqueueAdds: Counter<string>;
  private readonly workqueueQueueDuration: Histogram<string>;
  private readonly workqueueWorkDuration: Histogram<string>;
  private readonly workqueueInFlight: Gauge<string>;
  // The bot's own.
  private readonly runs: Counter<string>;
  private readonly lastRun: Gauge<string>;
  private readonly runInterval: Gauge<string>;
  private readonly appliedObjects: Counter<string>;
  private readonly drift: Counter<string>;
  private readonly previews: Counter<string>;
  private readonly deliveries: Counter<string>;
  private readonly queueJobs: Counter<string>;
  private readonly githubRequests: Counter<string>;
  private readonly githubRateRemaining: Gauge<string>;
  private readonly githubRateLimit: Gauge<string>;
  private readonly kubeRequests: Counter<string>;
  private readonly kubeRequestDuration: Histogram<string>;
  private readonly imageScans: Counter<string>;
  private readonly imageTags: Gauge<string>;
  private readonly imagePullRequests: Counter<string>;
  private readonly notifications: Counter<string>;
  private readonly buildCache: Counter<string>;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });

    this.reconcileTotal = new Counter({
      name: "controller_runtime_reconcile_total",
      help: "Total number of reconciliations per controller (result: success, error, requeue).",
      labelNames: ["controller", "result", "cluster"],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: "controller_runtime_reconcile_errors_total",
      help: "Total number of reconciliation errors per controller.",
      labelNames: ["controller", "cluster"],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: "controller_runtime_reconcile_time_seconds",
      help: "Length of time per reconciliation per controller.",
      labelNames: ["controller", "cluster"],
      buckets: [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1,
        1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
      ],
      registers,
    });
    // The bot's work queue is one queue with a job type per kind of work; controller-runtime has one queue per
    // controller. `name` (and `controller`) is the job type: push, reconcile, diff, images, command.
    const queueBuckets = [0.001, 0.01, 0.1, 1, 10, 60, 300, 900, 1800, 3600];
    this.workqueueDepth = new Gauge({
      name: "workqueue_depth",
      help: "Current depth of the work queue: jobs waiting, per job type.",
      labelNames: ["name", "controller"],
      registers,
    });
    this.workqueueAdds = new Counter({
      name: "workqueue_adds_total",
      help: "Total number of jobs accepted by the work queue, per job type.",
      labelNames: ["name", "controller"],
      registers,
    });
    this.workqueueQueueDuration = new Histogram({
      name: "workqueue_queue_duration_seconds",
      help: "How long in seconds a job waits in the work queue before it starts.",
      labelNames: ["name", "controller"],
      buckets: queueBuckets,
      registers,
    });
    this.workqueueWorkDuration = new Histogram({
      name: "workqueue_work_duration_seconds",
      help: "How long in seconds a job takes once started.",
      labelNames: ["name", "controller"],
      buckets: queueBuckets,
      registers,
    });
    this.workqueueInFlight = new Gauge({
      name: "gitops_bot_queue_running",
      help: "Jobs running now, per job type.",
      labelNames: ["type"],
      registers,
    });

    this.runs = new Counter({
      name: "gitops_bot_runs_total",
      help: "Engine runs (a reconcile or a preview of one cluster) by result.",
      labelNames: ["cluster", "repository", "dry_run", "result"],
      registers,
    });
    this.lastRun = new Gauge({
      name: "gitops_bot_last_run_timestamp_seconds",
      help: "When the last engine run (not a preview) for a cluster and repository ended, by result.",
      labelNames: ["cluster", "repository", "result"],
      registers,
    });
    this.runInterval = new Gauge({
      name: "gitops_bot_reconcile_interval_seconds",
      help: "How often a cluster and repository are expected to reconcile.",
      labelNames: ["cluster", "repository"],
      registers,
    });
    this.appliedObjects = new Counter({
      name: "gitops_bot_applied_objects_total",
      help: "Objects per apply action (created, configured, unchanged, pruned, skipped, failed) in real runs.",
      labelNames: ["cluster", "kind", "action"],
      registers,
    });
    this.drift = new Counter({
      name: "gitops_bot_drift_total",
      help: "Drift between Git and the cluster found by HelmRelease drift detection, by what was done.",
      labelNames: ["cluster", "kind", "action"],
      registers,
    });
    this.previews = new Counter({
      name: "gitops_bot_previews_total",
      help: "Pull-request previews (dry runs) per cluster by outcome: changes, no_changes, failed.",
      labelNames: ["cluster", "outcome"],
      registers,
    });
    this.deliveries = new Counter({
      name: "gitops_bot_webhook_deliveries_total",
      help: "Webhook deliveries by event and outcome: received, duplicate (already handled), failed.",
      labelNames: ["event", "outcome"],
      registers,
    });
    this.queueJobs = new Counter({
      name: "gitops_bot_queue_jobs_total",
      help: "Jobs by type and what became of them: queued, refused, superseded, succeeded, failed (a job the queue gave up on, lost too often, counts as failed).",
      labelNames: ["type", "cluster", "outcome"],
      registers,
    });
    this.githubRequests = new Counter({
      name: "gitops_bot_github_requests_total",
      help: "GitHub API requests by route class and status.",
      labelNames: ["route", "status"],
      registers,
    });
    this.githubRateRemaining = new Gauge({
      name: "gitops_bot_github_rate_limit_remaining",
      help: "GitHub's x-ratelimit-remaining on the last answer, per installation.",
      labelNames: ["installation"],
      registers,
    });
    this.githubRateLimit = new Gauge({
      name: "gitops_bot_github_rate_limit_limit",
      help: "GitHub's x-ratelimit-limit on the last answer, per installation.",
      labelNames: ["installation"],
      registers,
    });
    this.kubeRequests = new Counter({
      name: "gitops_bot_kube_requests_total",
      help: "Kubernetes API requests by verb and HTTP status code (error: no answer).",
      labelNames: ["cluster", "verb", "code"],
      registers,
    });
    this.kubeRequestDuration = new Histogram({
      name: "gitops_bot_kube_request_duration_seconds",
      help: "Kubernetes API request latency by verb.",
      labelNames: ["cluster", "verb"],
      buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.imageScans = new Counter({
      name: "gitops_bot_image_scans_total",
      help: "Image repository scans by outcome: ok, failed.",
      labelNames: ["cluster", "outcome"],
      registers,
    });
    this.imageTags = new Gauge({
      name: "gitops_bot_image_tags",
      help: "Tags seen on the last scan of an ImageRepository.",
      labelNames: ["cluster", "name", "namespace"],
      registers,
    });
    this.imagePullRequests = new Counter({
      name: "gitops_bot_image_pull_requests_total",
      help: "Image-update pull requests by what a scan did: created, updated, unchanged, closed, none.",
      labelNames: ["cluster", "action"],
      registers,
    });
    this.notifications = new Counter({
      name: "gitops_bot_notifications_total",
      help: "Notifications by provider type and outcome (sent, skipped, failed, dropped).",
      labelNames: ["cluster", "provider", "outcome"],
      registers,
    });
    this.buildCache = new Counter({
      name: "gitops_bot_build_cache_total",
      help: "kustomize build cache lookups by result: memory (hit), disk (hit), miss.",
      labelNames: ["result"],
      registers,
    });
  }

  /** The text exposition format, for GET /metrics. */
  async text(): Promise<string> {
    const flux = await this.flux.text();
    const rest = await this.registry.metrics();
    return flux ? `${rest.endsWith("\n") ? rest : `${rest}\n`}${flux}` : rest;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * After every engine run, real or dry. A real run sets each Kustomization's, HelmRelease's and source's
   * gotk_* series (state, duration) and the controller-runtime counters; a dry run (a PR preview) is not the
   * cluster's state, so it only counts as a preview.
   */
  recordRun(run: RunResult, meta: RunMeta): void {
    const cluster = meta.cluster;
    const succeeded =
      run.errors.length === 0 &&
      [...run.kustomizations, ...(run.helmReleases ?? [])].every(
        (r) => r.status !== "Failed" && r.status !== "DependencyNotReady",
      );
    this.runs.inc({
      cluster,
      repository: meta.repository,
      dry_run: String(run.dryRun),
      result: succeeded ? "success" : "failure",
    });
    if (run.dryRun) {
      this.recordPreview(run, cluster, succeeded);
      return;
    }
    this.lastRun.set(
      { cluster, repository: meta.repository, result: succeeded ? "success" : "failure" },
      Date.now() / 1000,
    );
    this.runInterval.set(
      { cluster, repository: meta.repository },
      meta.intervalSeconds ?? DEFAULT_RECONCILE_INTERVAL_SECONDS,
    );
    // Zero until drift is found, so a dashboard shows "none" rather than "no data".
    this.drift.inc({ cluster, kind: "HelmRelease", action: "corrected" }, 0);
    const seen = new Set<string>();
    for (const k of run.kustomizations) seen.add(this.recordKustomization(k, meta));
    for (const h of run.helmReleases ?? []) seen.add(this.recordHelmRelease(h, cluster));
    for (const s of run.sources ?? []) {
      if (isFluxKind(s.kind)) seen.add(this.recordSourceInfo(s, cluster));
    }
    // Objects that left Git (or a tree that stopped declaring them) are gone from the cluster's view too.
    const scope = `${cluster}\u0000${meta.repository}`;
    for (const key of this.reported.get(scope) ?? []) {
      if (!seen.has(key)) this.forgetObject(key);
    }
    this.reported.set(scope, seen);
  }

  private recordPreview(run: RunResult, cluster: string, succeeded: boolean): void {
    const changed = [...run.kustomizations, ...(run.helmReleases ?? [])].some((r) =>
      r.changes.some((c) => c.action === "created" || c.action === "configured" || c.action === "deleted"),
    );
    this.previews.inc({ cluster, outcome: succeeded ? (changed ? "changes" : "no_changes") : "failed" });
  }

  private recordKustomization(k: KustomizationResult, meta: RunMeta): string {
    const cluster = meta.cluster;
    const source = parseSourceRef(k.source);
    const key = this.setState("Kustomization", k, cluster, k.status, {
      revision: source?.revision ?? meta.revision ?? "",
      source_name: source?.name ?? meta.sourceName ?? meta.repository,
    });
    this.recordReconcile("Kustomization", k, cluster, k.status, k.durationMs);
    if (k.status !== "Suspended") {
      for (const change of k.changes) {
        const action = CHANGE_ACTIONS[change.action] ?? "other";
        this.appliedObjects.inc({ cluster, kind: "Kustomization", action });
      }
      if (k.status === "Failed") {
        this.appliedObjects.inc(
          { cluster, kind: "Kustomization", action: "failed" },
          Math.max(1, k.errors.length),
        );
      }
    }
    return key;
  }

  private recordHelmRelease(h: HelmReleaseResult, cluster: string): string {
    const source = parseSourceRef(h.source);
    const key = this.setState("HelmRelease", h, cluster, h.status, {
      revision: h.version ?? "",
      chart_name: h.chart ?? "",
      chart_version: h.version ?? "",
      chart_source_name: source?.name ?? "",
    });
    this.recordReconcile("HelmRelease", h, cluster, h.status, h.durationMs);
    if (h.action === "drift corrected") {
      this.drift.inc({ cluster, kind: "HelmRelease", action: "corrected" }, Math.max(1, h.changes.length));
    }
    for (const change of h.changes) {
      this.appliedObjects.inc({
        cluster,
        kind: "HelmRelease",
        action: CHANGE_ACTIONS[change.action] ?? "other",
      });
    }
    if (h.status === "Failed") this.appliedObjects.inc({ cluster, kind: "HelmRelease", action: "failed" });
    return key;
  }

  private recordSourceInfo(s: SourceResult, cluster: string): string {
    return this.setState(s.kind as FluxKind, s, cluster, s.error ? "Failed" : "Ready", {
      revision: s.revision ?? "",
      url: s.url,
    });
  }

  /**
   * A source fetch the caller timed (the repository's tarball is the bot's GitRepository; a declared
   * GitRepository, HelmRepository or OCIRepository): its duration and its state.
   */
  recordSourceFetch(fetch: SourceFetch): void {
    if (!isFluxKind(fetch.kind)) return;
    const status = fetch.ok ? "Ready" : "Failed";
    this.setState(fetch.kind, fetch, fetch.cluster, status, {
      revision: fetch.revision ?? "",
      url: fetch.url ?? "",
    });
    this.recordReconcile(fetch.kind, fetch, fetch.cluster, status, fetch.seconds * 1000);
  }

  /** After each image scan: the ImageRepository's and its policies' state, tags seen, the scan's outcome. */
  recordImageScan(scan: ImageScan): void {
    const cluster = scan.cluster ?? "";
    const status = scan.ok ? "Ready" : "Failed";
    this.setState("ImageRepository", scan.repository, cluster, status, {
      image: scan.repository.image ?? "",
    });
    this.recordReconcile("ImageRepository", scan.repository, cluster, status, scan.seconds * 1000);
    for (const p of scan.policies) {
      const policyStatus = p.ready ? "Ready" : "Failed";
      this.setState("ImagePolicy", p, cluster, policyStatus, { source_name: scan.repository.name });
      this.recordReconcile("ImagePolicy", p, cluster, policyStatus, 0);
    }
    this.imageScans.inc({ cluster, outcome: scan.ok ? "ok" : "failed" });
    if (scan.ok) {
      this.imageTags.set(
        { cluster, name: scan.repository.name, namespace: scan.repository.namespace },
        scan.tags,
      );
    }
  }

  /** A whole scan (images/scan.ts's ScanResult) that took `seconds`: one ImageScan per ImageRepository. */
  recordImageScanResult(result: ImageScanResultLike, meta: { seconds: number; cluster?: string }): void {
    for (const scan of result.repositories) {
      const { name, namespace } = scan.repository;
      this.recordImageScan({
        cluster: meta.cluster,
        repository: { name, namespace, image: scan.repository.spec.image },
        policies: result.policies
          .filter((p) => {
            const ref = p.policy.spec.imageRepositoryRef;
            return ref.name === name && (ref.namespace ?? p.policy.namespace) === namespace;
          })
          .map((p) => ({
            name: p.policy.name,
            namespace: p.policy.namespace,
            ready: !p.error && p.tag !== undefined,
          })),
        seconds: meta.seconds,
        ok: !scan.error,
        tags: scan.tags.length,
      });
    }
  }

  recordImagePullRequest(action: string, cluster = ""): void {
    this.imagePullRequests.inc({ cluster, action: boundedToken(action) });
  }

  recordNotification(provider: string, outcome: string, cluster = ""): void {
    this.notifications.inc({ cluster, provider: boundedToken(provider), outcome: boundedToken(outcome) });
  }

  recordBuildCache(result: "memory" | "disk" | "miss"): void {
    this.buildCache.inc({ result });
  }

  /** A webhook delivery probot verified and handed to the app (`outcome` received), or whose handler failed. */
  recordDelivery(event: string, outcome: "received" | "duplicate" | "failed", id?: string): void {
    const name = boundedToken(event) || "unknown";
    this.deliveries.inc({ event: name, outcome });
    if (id && outcome === "received") {
      this.deliveryEvents.set(id, name);
      // Remember only recent ids: enough to name the event of a redelivery that arrives soon after.
      if (this.deliveryEvents.size > 1000) {
        const oldest = this.deliveryEvents.keys().next().value;
        if (oldest !== undefined) this.deliveryEvents.delete(oldest);
      }
    }
  }

  /** For the delivery log: a redelivery refused as a duplicate. */
  recordDuplicateDelivery(id: string): void {
    this.deliveries.inc({ event: this.deliveryEvents.get(id) ?? "unknown", outcome: "duplicate" });
  }

  recordGitHubRequest(request: GitHubRequest): void {
    const route = /^[A-Z]{3,7} [a-z0-9_-]{1,40}$/.test(request.route) ? request.route : "other";
    this.githubRequests.inc({ route, status: String(request.status) });
    if (request.installation === undefined) return;
    const installation = String(request.installation);
    if (request.rateLimitRemaining !== undefined) {
      this.githubRateRemaining.set({ installation }, request.rateLimitRemaining);
    }
    if (request.rateLimitLimit !== undefined)
      this.githubRateLimit.set({ installation }, request.rateLimitLimit);
  }

  recordKubeRequest(request: KubeRequest): void {
    const verb = boundedToken(request.verb, 16);
    this.kubeRequests.inc({ cluster: request.cluster, verb, code: boundedToken(request.code, 8) });
    this.kubeRequestDuration.observe({ cluster: request.cluster, verb }, request.seconds);
  }

  /** The cluster name for an API server URL: the operator's name when known, else the URL's host. */
  kubeClusterOf(server: string): string {
    const known = this.kubeClusters.get(server);
    if (known) return known;
    try {
      return new URL(server).host;
    } catch {
      return "unknown";
    }
  }

  /**
   * An observer for the work queue: workqueue_* per job type, and the bot's own counts with the cluster the
   * job is for. `describe` reads a job's type and cluster (the queue's payloads are the app's business).
   */
  queueObserver<P>(describe: (payload: P) => { type: string; cluster?: string }) {
    const labels = (p: P) => {
      const d = describe(p);
      const type = boundedToken(d.type) || "unknown";
      return { queue: { name: type, controller: type }, type, cluster: d.cluster ?? "" };
    };
    return {
      enqueued: (p: P) => {
        const l = labels(p);
        this.workqueueAdds.inc(l.queue);
        this.workqueueDepth.inc(l.queue);
        this.queueJobs.inc({ type: l.type, cluster: l.cluster, outcome: "queued" });
      },
      refused: (p: P) => {
        const l = labels(p);
        this.queueJobs.inc({ type: l.type, cluster: l.cluster, outcome: "refused" });
      },
      superseded: (p: P) => {
        const l = labels(p);
        this.workqueueDepth.dec(l.queue);
        this.queueJobs.inc({ type: l.type, cluster: l.cluster, outcome: "superseded" });
      },
      started: (p: P, waitedMs: number) => {
        const l = labels(p);
        this.workqueueDepth.dec(l.queue);
        this.workqueueInFlight.inc({ type: l.type });
        this.workqueueQueueDuration.observe(l.queue, waitedMs / 1000);
      },
      finished: (p: P, ranMs: number, ok: boolean) => {
        const l = labels(p);
        this.workqueueInFlight.dec({ type: l.type });
        this.workqueueWorkDuration.observe(l.queue, ranMs / 1000);
        this.queueJobs.inc({ type: l.type, cluster: l.cluster, outcome: ok ? "succeeded" : "failed" });
      },
      // Given up after being lost too often: it never finished, so the in-flight gauge was never raised for
      // this last take (the queue fails it without running it).
      abandoned: (p: P) => {
        const l = labels(p);
        this.queueJobs.inc({ type: l.type, cluster: l.cluster, outcome: "failed" });
      },
    };
  }

  // gotk_resource_info, gotk_reconcile_condition and gotk_suspend_status for one object.
  private setState(
    kind: FluxKind,
    object: { name: string; namespace: string },
    cluster: string,
    status: KustomizationResult["status"],
    extra: InfoLabels,
  ): string {
    const flux = this.flux.of(cluster);
    const key = [cluster, kind, object.namespace, object.name].join("\u0000");
    const previous = this.infoSeries.get(key);
    const suspended = status === "Suspended";
    // A suspended object keeps the readiness it had (Flux leaves its Ready condition alone).
    const ready: Ready = suspended
      ? ((previous?.ready as Ready | undefined) ?? "Unknown")
      : status === "Ready"
        ? "True"
        : "False";
    const { group, version } = FLUX_KINDS[kind];
    const labels: InfoLabels = {
      cluster,
      customresource_group: group,
      customresource_kind: kind,
      customresource_version: version,
      name: object.name,
      namespace: object.namespace,
      ready,
      suspended: String(suspended),
      ...Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined && v !== "")),
    };
    if (suspended && previous) {
      // What a suspended run does not know (revision, chart) stays as it was.
      for (const [name, value] of Object.entries(previous)) {
        if (!(name in labels) && value) labels[name as keyof InfoLabels] = value;
      }
      if (!extra.revision && previous.revision) labels.revision = previous.revision;
    }
    if (previous) flux.info.remove(previous);
    flux.info.set(labels, 1);
    this.infoSeries.set(key, labels);
    const base = { kind, name: object.name, namespace: object.namespace, cluster };
    // One series per object, its current status (Flux also keeps the other statuses at 0; `== 1` reads both).
    if (previous?.ready && previous.ready !== ready) {
      flux.condition.remove({ ...base, type: "Ready", status: previous.ready });
    }
    flux.condition.set({ ...base, type: "Ready", status: ready }, 1);
    flux.suspend.set(base, suspended ? 1 : 0);
    return key;
  }

  private recordReconcile(
    kind: FluxKind,
    object: { name: string; namespace: string },
    cluster: string,
    status: KustomizationResult["status"],
    durationMs: number,
  ): void {
    // A suspended object is not reconciled: Flux records no duration and no reconcile for it.
    if (status === "Suspended") return;
    const seconds = durationMs / 1000;
    this.flux
      .of(cluster)
      .duration.observe({ kind, name: object.name, namespace: object.namespace, cluster }, seconds);
    const controller = FLUX_KINDS[kind].controller;
    const result = status === "Ready" ? "success" : status === "DependencyNotReady" ? "requeue" : "error";
    this.reconcileTotal.inc({ controller, result, cluster });
    if (result === "error") this.reconcileErrors.inc({ controller, cluster });
    this.reconcileTime.observe({ controller, cluster }, seconds);
  }

  private forgetObject(key: string): void {
    const labels = this.infoSeries.get(key);
    if (!labels) return;
    const flux = this.flux.of(labels.cluster ?? "");
    flux.info.remove(labels);
    this.infoSeries.delete(key);
    const base = {
      kind: labels.customresource_kind ?? "",
      name: labels.name ?? "",
      namespace: labels.namespace ?? "",
      cluster: labels.cluster ?? "",
    };
    for (const s of ["True", "False", "Unknown"])
      flux.condition.remove({ ...base, type: "Ready", status: s });
    flux.suspend.remove(base);
  }
}
