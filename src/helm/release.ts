// Reconciling one HelmRelease with the real helm binary, as helm-controller decides: install when there is no
// release, upgrade when the chart version or the values digest changed, nothing otherwise; remediate failures
// (uninstall after a failed install, rollback or uninstall after a failed upgrade) as configured; run tests;
// detect and correct drift. The release's labels (`helm --labels`) hold what it was made from.
import { createHash } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { RawObjectApi } from "../cluster/kube-client.js";
import { applyAllStaged } from "../cluster/ssa/apply.js";
import { ChangeSet, type ChangeSetEntry } from "../cluster/ssa/changeset.js";
import { scopeHash } from "../cluster/ssa/inventory.js";
import { parseDuration } from "../flux/duration.js";
import { ManifestError } from "../flux/errors.js";
import type { FluxHelmRelease } from "../flux/helm-release.js";
import { helmReleaseKey } from "../flux/helm-release.js";
import { scrubSecrets } from "../util/secret-scrub.js";
import type { ClusterCapabilities } from "./capabilities.js";
import { checkChartFiles } from "./chart-files.js";
import { detectDrift, ignorePathError } from "./drift.js";
import { type HelmLimits, type HelmSession, releaseTimeout } from "./helm-cli.js";
import { parseManifest } from "./manifest.js";
import { postRendererPlugin } from "./post-render.js";
import { previewRelease } from "./preview.js";
import { desiredStateKey, FailureCounter, type RemediatedAction } from "./remediation-state.js";
import type { HelmReleaseAction, HelmReleaseResult } from "./result.js";
import {
  DIGEST_LABEL,
  HR_NAME_LABEL,
  HR_NAMESPACE_LABEL,
  markPendingFailed,
  type ReleaseRevision,
  readStoredRelease,
  releaseHistory,
  SCOPE_LABEL,
} from "./storage.js";
import { chartCrds, templateChart } from "./template.js";
import { type ComposedValues, canonicalJson, mergeValues, stringsAtPaths } from "./values.js";

/** A chart ready for helm: a local archive or directory, with what it is. */
export interface ResolvedChart {
  /** Path to a chart archive (.tgz) or chart directory. */
  path: string;
  name: string;
  version: string;
  /** `Kind/namespace/name@revision` of the source it came from. */
  source: string;
  /**
   * For a chart directory: the directory its symlinks may point into (the source's root, as Flux's secure
   * loader allows); default: the chart directory itself.
   */
  root?: string;
  /**
   * The values files merged into the chart's values.yaml (Flux's observedValuesFiles), once applied
   * (src/source/kinds/helm-chart/values-files.ts); with the digest of their merge, part of releaseDigest.
   */
  valuesFiles?: string[];
  valuesFilesDigest?: string;
}

export interface HelmReleaseOptions {
  dryRun: boolean;
  withDiff: boolean;
  scope: string;
  /** Skip waiting for the release's workloads (helm `--wait=hookOnly`). */
  skipHealth: boolean;
  /** Changes from outside the repository (a fork's PR): valuesFrom Secrets are not read. */
  untrusted?: boolean;
  /** Bounds on every helm command (timeouts, output). */
  limits?: Partial<HelmLimits>;
}

/**
 * The helm sessions one run uses. Dry-runs only ever use `render` (no kubeconfig: charts cannot read the
 * cluster); real runs use `cluster` for what Flux does with cluster access (install, upgrade, rollback, …).
 */
export interface HelmSessions {
  render(): HelmSession;
  cluster(): HelmSession;
  /** What `helm template` is told of the cluster (server version, API versions). */
  capabilities(): Promise<ClusterCapabilities | undefined>;
}

/** What a release is made from; a change of any of it means an upgrade (helm-controller's "out of sync"). */
export function releaseDigest(hr: FluxHelmRelease, chart: ResolvedChart, values: ComposedValues): string {
  const config = canonicalJson({
    chart: chart.name,
    version: chart.version,
    // Only present with values files, so releases made without them keep their digest.
    chartValues: chart.valuesFilesDigest,
    values: values.digest,
    postRenderers: hr.spec.postRenderers ?? [],
    commonMetadata: hr.spec.commonMetadata ?? {},
  });
  return createHash("sha256").update(config).digest("hex").slice(0, 40);
}

function releaseLabels(hr: FluxHelmRelease, scope: string, digest: string): string {
  return [
    `${HR_NAME_LABEL}=${hr.name}`,
    `${HR_NAMESPACE_LABEL}=${hr.namespace}`,
    `${SCOPE_LABEL}=${scopeHash(scope)}`,
    `${DIGEST_LABEL}=${digest}`,
  ].join(",");
}

class Outcome {
  readonly errors: string[] = [];
  readonly changes = new ChangeSet();
  action: HelmReleaseAction = "none";
  message = "";
  failed = false;
  /** The release revision helm reported for a successful install or upgrade. */
  revision?: number;
  /** Failures counted across runs (remediation-state.ts), after this run. */
  failures?: { install: number; upgrade: number };
  /** Set when the retries of an action are used up: nothing is attempted until the desired state changes. */
  exhausted?: RemediatedAction;
  constructor(readonly secrets: string[]) {}
  error(text: string): void {
    this.errors.push(scrubSecrets(text, this.secrets));
  }
}

export async function reconcileHelmRelease(
  api: RawObjectApi,
  sessions: HelmSessions,
  hr: FluxHelmRelease,
  chart: ResolvedChart,
  values: ComposedValues,
  opts: HelmReleaseOptions,
): Promise<HelmReleaseResult> {
  const started = Date.now();
  const refused = ignoreRulesError(hr);
  if (refused) throw refused;
  const out = new Outcome([...values.secretStrings, ...(hr.substitutedSecrets ?? [])]);
  const digest = releaseDigest(hr, chart, values);
  const history = await releaseHistory(api, hr.releaseNamespace, hr.releaseName);
  const latest = history.at(-1);
  const ownerScope = latest?.labels[SCOPE_LABEL];
  const owner = latest?.labels[HR_NAME_LABEL]
    ? `${latest.labels[HR_NAMESPACE_LABEL]}/${latest.labels[HR_NAME_LABEL]}`
    : undefined;
  let revision = latest?.revision;
  const finish = (): HelmReleaseResult => ({
    name: hr.name,
    namespace: hr.namespace,
    file: hr.file,
    releaseName: hr.releaseName,
    releaseNamespace: hr.releaseNamespace,
    chart: chart.name,
    version: chart.version,
    source: chart.source,
    status: out.failed ? "Failed" : "Ready",
    action: out.action,
    message: scrubSecrets(out.message, out.secrets),
    revision,
    changes: out.changes.entries,
    errors: out.errors,
    durationMs: Date.now() - started,
    ...(out.failures && (out.failures.install > 0 || out.failures.upgrade > 0 || out.exhausted)
      ? {
          remediation: {
            installFailures: out.failures.install,
            upgradeFailures: out.failures.upgrade,
            ...(out.exhausted ? { retriesExhausted: out.exhausted } : {}),
          },
        }
      : {}),
  });

  if (latest && ownerScope && ownerScope !== scopeHash(opts.scope)) {
    out.failed = true;
    out.message = `Helm release ${hr.releaseNamespace}/${hr.releaseName} is managed from another repository or cluster path; refusing to take it over`;
    out.error(out.message);
    return finish();
  }
  if (latest && owner && owner !== `${hr.namespace}/${hr.name}`) {
    out.failed = true;
    out.message = `Helm release ${hr.releaseNamespace}/${hr.releaseName} belongs to HelmRelease ${owner}`;
    out.error(out.message);
    return finish();
  }
  if (latest && !ownerScope && opts.untrusted) {
    // Not made by gitops-bot: its objects belong to whoever installed it, not to this repository.
    out.failed = true;
    out.message = `Helm release ${hr.releaseNamespace}/${hr.releaseName} exists and was not installed by gitops-bot; changes from outside the repository (a fork's pull request) cannot preview it`;
    out.error(out.message);
    return finish();
  }

  if (latest?.status.startsWith("pending-") && !opts.dryRun) {
    await markPendingFailed(api, latest);
    out.error(`release revision ${latest.revision} was left ${latest.status}; marked failed to unlock it`);
    latest.status = "failed";
  }
  const live = latest && latest.status !== "uninstalled" ? latest : undefined;
  const upToDate = live?.status === "deployed" && live.labels[DIGEST_LABEL] === digest;
  const context = { api, sessions, hr, chart, values, digest, opts, out };

  if (upToDate) {
    out.action = "unchanged";
    out.message = `release ${hr.releaseName} revision ${live.revision} is up to date (${chart.name}@${chart.version})`;
    await checkDrift(context, live);
    if (!opts.dryRun) {
      // In sync (e.g. Git went back to what a rollback restored): a count kept for a failed state is void, so
      // trying that state again later starts over, as a new generation does in Flux.
      const counter = await FailureCounter.load(api, hr, scopeHash(opts.scope), desiredStateKey(hr, digest));
      await counter.clear();
      for (const problem of counter.problems) out.error(problem);
    }
    return finish();
  }
  if (!chartFilesAllowed(context)) return finish();
  if (opts.dryRun) {
    await previewChange(context, live);
    return finish();
  }
  const everDeployed = history.some((r) => r.status === "deployed" || r.status === "superseded");
  const counter = await FailureCounter.load(api, hr, scopeHash(opts.scope), desiredStateKey(hr, digest));
  const remediation = { ...context, counter };
  if (!live || !everDeployed) {
    if (retriesExhausted(remediation, "install")) {
      // Flux: no further install until the HelmRelease, its chart or values change.
    } else {
      if (live) await uninstall(context, "the release has never been deployed successfully");
      if (!out.failed) await installWithRemediation(remediation);
    }
  } else if (!retriesExhausted(remediation, "upgrade")) {
    await upgradeWithRemediation(remediation, history);
  }
  for (const problem of counter.problems) out.error(problem);
  out.failures = { install: counter.failures("install"), upgrade: counter.failures("upgrade") };
  revision =
    out.action === "installed" || out.action === "upgraded"
      ? out.revision
      : (await releaseHistory(api, hr.releaseNamespace, hr.releaseName)).at(-1)?.revision;
  return finish();
}

interface Context {
  api: RawObjectApi;
  sessions: HelmSessions;
  hr: FluxHelmRelease;
  chart: ResolvedChart;
  values: ComposedValues;
  digest: string;
  opts: HelmReleaseOptions;
  out: Outcome;
}

function valuesInput(c: Context): string {
  return JSON.stringify(c.values.values);
}

/** Runs a release operation in the cluster session: --timeout as asked (within bounds), a process bound. */
function runRelease(c: Context, args: string[], askedMs: number, input?: string): Promise<string> {
  const helm = c.sessions.cluster();
  const timeout = releaseTimeout(helm.limits, askedMs);
  return helm.run([...args, "--timeout", timeout.flag], {
    input,
    timeoutMs: timeout.processMs,
    secrets: c.out.secrets,
  });
}

/** The chart is checked (symlinks, size) before helm reads it; false when it is refused. */
function chartFilesAllowed(c: Context): boolean {
  try {
    checkChartFiles(c.chart.path, { root: c.chart.root, what: `chart ${c.chart.name}@${c.chart.version}` });
    return true;
  } catch (err) {
    c.out.failed = true;
    c.out.message = (err as Error).message;
    c.out.error(c.out.message);
    return false;
  }
}

async function commonArgs(c: Context, wait: { disableWait?: boolean; disableWaitForJobs?: boolean }) {
  const { hr } = c;
  const args = [
    "--namespace",
    hr.releaseNamespace,
    "--values",
    "-",
    "--labels",
    releaseLabels(hr, c.opts.scope, c.digest),
    // Git wins over other field managers (kubectl edits), as server-side apply with force does for Kustomizations.
    "--force-conflicts",
  ];
  const waits = !wait.disableWait && !c.opts.skipHealth;
  args.push(`--wait=${waits ? "watcher" : "hookOnly"}`);
  if (waits && !wait.disableWaitForJobs) args.push("--wait-for-jobs");
  const plugin = await postRendererPlugin(c.sessions.cluster(), hr);
  if (plugin) args.push("--post-renderer", plugin);
  return args;
}

async function helmInstall(c: Context): Promise<string> {
  const install = c.hr.spec.install ?? {};
  const args = ["install", c.hr.releaseName, c.chart.path, ...(await commonArgs(c, install))];
  if (install.createNamespace) args.push("--create-namespace");
  if (install.crds === "Skip" || install.skipCRDs) args.push("--skip-crds");
  if (install.disableHooks) args.push("--no-hooks");
  if (install.disableOpenAPIValidation) args.push("--disable-openapi-validation");
  if (install.disableSchemaValidation) args.push("--skip-schema-validation");
  if (install.replace) args.push("--replace");
  args.push("--output", "json");
  const asked = install.timeout ? parseDuration(install.timeout) : c.hr.timeoutMs;
  return runRelease(c, args, asked, valuesInput(c));
}

async function helmUpgrade(c: Context): Promise<string> {
  const upgrade = c.hr.spec.upgrade ?? {};
  const args = [
    "upgrade",
    c.hr.releaseName,
    c.chart.path,
    ...(await commonArgs(c, upgrade)),
    "--history-max",
    String(c.hr.spec.maxHistory ?? 5),
  ];
  if (upgrade.disableHooks) args.push("--no-hooks");
  if (upgrade.disableOpenAPIValidation) args.push("--disable-openapi-validation");
  if (upgrade.disableSchemaValidation) args.push("--skip-schema-validation");
  if (upgrade.force) args.push("--force-replace");
  if (upgrade.cleanupOnFail) args.push("--cleanup-on-fail");
  args.push(upgrade.preserveValues ? "--reuse-values" : "--reset-values");
  args.push("--output", "json");
  if (upgrade.crds === "Create" || upgrade.crds === "CreateReplace") await applyChartCrds(c, upgrade.crds);
  const asked = upgrade.timeout ? parseDuration(upgrade.timeout) : c.hr.timeoutMs;
  return runRelease(c, args, asked, valuesInput(c));
}

/** upgrade.crds Create / CreateReplace: helm never touches crds/ on upgrade, so apply them ourselves. */
async function applyChartCrds(c: Context, policy: "Create" | "CreateReplace"): Promise<void> {
  const crds = await chartCrds(c.sessions.render(), c.chart, c.out.secrets);
  if (crds.length === 0) return;
  let targets = crds;
  if (policy === "Create") {
    const existing = await Promise.all(
      crds.map((o) =>
        c.api
          .read(o as Parameters<RawObjectApi["read"]>[0])
          .then(() => true)
          .catch(() => false),
      ),
    );
    targets = crds.filter((_, i) => !existing[i]);
  }
  const applied = await applyAllStaged(c.api, targets, {});
  if (applied.errors.length > 0) throw new Error(`applying the chart's CRDs: ${applied.errors[0]?.message}`);
}

async function helmTest(c: Context): Promise<string | undefined> {
  const test = c.hr.spec.test;
  if (!test?.enable) return undefined;
  const args = ["test", c.hr.releaseName, "--namespace", c.hr.releaseNamespace];
  for (const f of test.filters ?? []) args.push("--filter", `${f.exclude ? "!" : ""}name=${f.name}`);
  try {
    await runRelease(c, args, test.timeout ? parseDuration(test.timeout) : c.hr.timeoutMs);
    return undefined;
  } catch (err) {
    const why = `test failed: ${(err as Error).message}`;
    if (test.ignoreFailures) {
      c.out.error(`${why} (ignored: test.ignoreFailures)`);
      return undefined;
    }
    return why;
  }
}

function releaseVersion(json: string): number | undefined {
  try {
    return (JSON.parse(json) as { version?: number }).version;
  } catch {
    return undefined;
  }
}

/** At most this many attempts of one action in one run; the count carries over to the next (retries: -1). */
export const MAX_ATTEMPTS_PER_RUN = 5;

interface RemediationContext extends Context {
  counter: FailureCounter;
}

function retriesOf(c: Context, action: RemediatedAction): number {
  return (action === "install" ? c.hr.spec.install : c.hr.spec.upgrade)?.remediation?.retries ?? 0;
}

/** Flux's RetriesExhausted: retries >= 0 and more failures than retries. */
function exhaustedAt(retries: number, failures: number): boolean {
  return retries >= 0 && failures > retries;
}

/**
 * Before an action: when its failures, counted across runs for this desired state, used up its retries, the
 * run stops there (Flux's Stalled / RetriesExceeded) and says so.
 */
function retriesExhausted(c: RemediationContext, action: RemediatedAction): boolean {
  const retries = retriesOf(c, action);
  const failures = c.counter.failures(action);
  if (!exhaustedAt(retries, failures)) return false;
  c.out.failed = true;
  c.out.exhausted = action;
  const last = c.counter.lastFailure ? `; last failure: ${c.counter.lastFailure}` : "";
  c.out.message = `${action} retries exhausted: failed ${failures} time${failures === 1 ? "" : "s"} (spec.${action}.remediation.retries: ${retries}); not retried until the HelmRelease, its chart or its values change${last}`;
  c.out.error(c.out.message);
  return true;
}

/** After a failed attempt: the failure counted and stored; whether retries remain. */
async function countFailure(
  c: RemediationContext,
  action: RemediatedAction,
  failure: string,
): Promise<{ failures: number; exhausted: boolean }> {
  const failures = await c.counter.recordFailure(action, scrubSecrets(failure, c.out.secrets));
  return { failures, exhausted: exhaustedAt(retriesOf(c, action), failures) };
}

function stopMessage(
  c: RemediationContext,
  action: RemediatedAction,
  failure: string,
  remediated: string,
  failures: number,
  exhausted: boolean,
): string {
  if (exhausted) {
    c.out.exhausted = action;
    return `${failure}${remediated}; ${action} retries exhausted after ${failures} attempt${failures === 1 ? "" : "s"}`;
  }
  const retries = retriesOf(c, action);
  const of = retries < 0 ? "unlimited retries" : `${retries + 1} attempts`;
  return `${failure}${remediated}; retried at the next run (${failures} of ${of})`;
}

async function installWithRemediation(c: RemediationContext): Promise<void> {
  const remediation = c.hr.spec.install?.remediation ?? {};
  // Flux: install failures are remediated after the last one only when asked.
  const remediateLast = remediation.remediateLastFailure ?? false;
  for (let attempt = 0; ; attempt++) {
    let failure: string | undefined;
    try {
      c.out.revision = releaseVersion(await helmInstall(c));
      const testFailure = await helmTest(c);
      if (testFailure && !remediation.ignoreTestFailures) failure = testFailure;
      else if (testFailure) c.out.error(`${testFailure} (ignored: install.remediation.ignoreTestFailures)`);
    } catch (err) {
      failure = `install failed: ${(err as Error).message}`;
    }
    if (!failure) {
      await c.counter.clear();
      c.out.action = "installed";
      c.out.message = `installed ${c.chart.name}@${c.chart.version} as ${c.hr.releaseNamespace}/${c.hr.releaseName}${attempt > 0 ? ` after ${attempt} retr${attempt === 1 ? "y" : "ies"}` : ""}`;
      return;
    }
    c.out.error(failure);
    const { failures, exhausted } = await countFailure(c, "install", failure);
    const lastOfRun = exhausted || attempt + 1 >= MAX_ATTEMPTS_PER_RUN;
    const remediate = !exhausted || remediateLast;
    if (remediate) await uninstall(c, "remediating a failed install", true);
    if (lastOfRun) {
      c.out.failed = true;
      c.out.message = stopMessage(
        c,
        "install",
        failure,
        remediate ? " (uninstalled)" : "",
        failures,
        exhausted,
      );
      return;
    }
  }
}

async function upgradeWithRemediation(c: RemediationContext, history: ReleaseRevision[]): Promise<void> {
  const remediation = c.hr.spec.upgrade?.remediation ?? {};
  const retries = remediation.retries ?? 0;
  // Flux: upgrade failures are remediated after the last one when retries were asked for.
  const remediateLast = remediation.remediateLastFailure ?? retries > 0;
  const strategy = remediation.strategy ?? "rollback";
  for (let attempt = 0; ; attempt++) {
    let failure: string | undefined;
    try {
      c.out.revision = releaseVersion(await helmUpgrade(c));
      const testFailure = await helmTest(c);
      if (testFailure && !remediation.ignoreTestFailures) failure = testFailure;
      else if (testFailure) c.out.error(`${testFailure} (ignored: upgrade.remediation.ignoreTestFailures)`);
    } catch (err) {
      failure = `upgrade failed: ${(err as Error).message}`;
    }
    if (!failure) {
      await c.counter.clear();
      c.out.action = "upgraded";
      c.out.message = `upgraded ${c.hr.releaseNamespace}/${c.hr.releaseName} to ${c.chart.name}@${c.chart.version}${attempt > 0 ? ` after ${attempt} retr${attempt === 1 ? "y" : "ies"}` : ""}`;
      return;
    }
    c.out.error(failure);
    const { failures, exhausted } = await countFailure(c, "upgrade", failure);
    const lastOfRun = exhausted || attempt + 1 >= MAX_ATTEMPTS_PER_RUN;
    let remediated = "";
    if (!exhausted || remediateLast) {
      if (strategy === "uninstall") {
        await uninstall(c, "remediating a failed upgrade", true);
        remediated = " (uninstalled)";
      } else {
        const target = await rollback(c, history);
        remediated = target ? ` (rolled back to revision ${target})` : "";
      }
    }
    if (lastOfRun) {
      c.out.failed = true;
      c.out.message = stopMessage(c, "upgrade", failure, remediated, failures, exhausted);
      return;
    }
    if (strategy === "uninstall") {
      // The release is gone: what follows is an install, counted as one.
      if (!retriesExhausted(c, "install")) await installWithRemediation(c);
      return;
    }
  }
}

/** Rolls back to the last successfully deployed revision; returns it, or undefined when there is none. */
async function rollback(c: Context, history: ReleaseRevision[]): Promise<number | undefined> {
  const current = await releaseHistory(c.api, c.hr.releaseNamespace, c.hr.releaseName);
  const latestRevision = current.at(-1)?.revision ?? 0;
  const target = [...history, ...current]
    .filter((r) => (r.status === "deployed" || r.status === "superseded") && r.revision < latestRevision)
    .sort((a, b) => b.revision - a.revision)[0]?.revision;
  if (!target) return undefined;
  const rb = c.hr.spec.rollback ?? {};
  const args = [
    "rollback",
    c.hr.releaseName,
    String(target),
    "--namespace",
    c.hr.releaseNamespace,
    "--history-max",
    String(c.hr.spec.maxHistory ?? 5),
    `--wait=${rb.disableWait || c.opts.skipHealth ? "hookOnly" : "watcher"}`,
    "--force-conflicts",
  ];
  if (!rb.disableWait && !rb.disableWaitForJobs && !c.opts.skipHealth) args.push("--wait-for-jobs");
  if (rb.disableHooks) args.push("--no-hooks");
  if (rb.force) args.push("--force-replace");
  if (rb.cleanupOnFail) args.push("--cleanup-on-fail");
  try {
    await runRelease(c, args, rb.timeout ? parseDuration(rb.timeout) : c.hr.timeoutMs);
    c.out.action = "rolled back";
    return target;
  } catch (err) {
    c.out.error(`rollback to revision ${target} failed: ${(err as Error).message}`);
    return undefined;
  }
}

async function uninstall(c: Context, why: string, remediation = false): Promise<void> {
  try {
    await uninstallRelease(
      c.sessions.cluster(),
      c.hr,
      c.hr.releaseName,
      c.hr.releaseNamespace,
      c.opts.skipHealth,
      c.out.secrets,
    );
    if (remediation) c.out.action = "uninstalled";
  } catch (err) {
    c.out.failed = true;
    c.out.error(`uninstall (${why}) failed: ${(err as Error).message}`);
  }
}

export async function uninstallRelease(
  helm: HelmSession,
  hr: Pick<FluxHelmRelease, "spec" | "timeoutMs"> | undefined,
  releaseName: string,
  namespace: string,
  skipWait: boolean,
  secrets: readonly string[] = [],
): Promise<void> {
  const u = hr?.spec.uninstall ?? {};
  const timeout = releaseTimeout(
    helm.limits,
    u.timeout ? parseDuration(u.timeout) : (hr?.timeoutMs ?? 300_000),
  );
  const args = [
    "uninstall",
    releaseName,
    "--namespace",
    namespace,
    "--timeout",
    timeout.flag,
    `--wait=${u.disableWait || skipWait ? "hookOnly" : "watcher"}`,
    "--cascade",
    u.deletionPropagation ?? "background",
  ];
  if (u.disableHooks) args.push("--no-hooks");
  if (u.keepHistory) args.push("--keep-history");
  await helm.run(args, { timeoutMs: timeout.processMs, secrets });
}

/**
 * Dry run: what installing or upgrading would do. The chart is rendered without cluster access (`helm
 * template`: `lookup` finds nothing), then each object goes through the API server's dry-run and is compared
 * with the live object (preview.ts). The live release is read from Helm's storage through the API.
 */
async function previewChange(c: Context, live: ReleaseRevision | undefined): Promise<void> {
  const verb = live ? "upgrade" : "install";
  c.out.action = live ? "upgraded" : "installed";
  const fail = (why: string) => {
    c.out.failed = true;
    c.out.message = `${verb} dry-run failed: ${why}`;
    c.out.error(c.out.message);
  };
  const stored = live ? await readStoredRelease(c.api, live) : undefined;
  if (stored && c.values.secretPaths.length > 0) {
    // The live release may hold older Secret values at the same places; they must not show either.
    c.out.secrets.push(...stringsAtPaths(stored.config, c.values.secretPaths));
  }
  const upgrade = c.hr.spec.upgrade ?? {};
  const install = c.hr.spec.install ?? {};
  // --reuse-values: helm merges the new values over the live release's.
  const values =
    stored && upgrade.preserveValues ? mergeValues(stored.config, c.values.values) : c.values.values;
  const crdPolicy = live
    ? upgrade.crds === "Create" || upgrade.crds === "CreateReplace"
      ? upgrade.crds
      : undefined
    : install.crds === "Skip" || install.skipCRDs
      ? undefined
      : (install.crds ?? "Create");
  const helm = c.sessions.render();
  let rendered: Awaited<ReturnType<typeof templateChart>>;
  let crds: KubernetesObject[] = [];
  try {
    rendered = await templateChart(helm, c.hr, c.chart, values, {
      isUpgrade: live !== undefined,
      capabilities: await c.sessions.capabilities(),
      secrets: c.out.secrets,
    });
    if (crdPolicy) crds = await chartCrds(helm, c.chart, c.out.secrets);
  } catch (err) {
    fail((err as Error).message);
    return;
  }
  let preview: Awaited<ReturnType<typeof previewRelease>>;
  try {
    preview = await previewRelease(c.api, {
      releaseName: c.hr.releaseName,
      releaseNamespace: c.hr.releaseNamespace,
      objects: rendered.objects,
      crds,
      crdPolicy,
      before: stored ? parseManifest(stored.manifest) : [],
      createNamespace: !live && install.createNamespace === true,
      withDiff: c.opts.withDiff,
    });
  } catch (err) {
    fail((err as Error).message);
    return;
  }
  for (const entry of preview.entries) c.out.changes.entries.push(scrubEntry(entry, c.out.secrets));
  if (preview.errors.length > 0) {
    for (const e of preview.errors.slice(1)) c.out.error(e);
    fail(preview.errors[0] as string);
    return;
  }
  c.out.message = live
    ? `would upgrade ${c.hr.releaseNamespace}/${c.hr.releaseName} to ${c.chart.name}@${c.chart.version}`
    : `would install ${c.chart.name}@${c.chart.version} as ${c.hr.releaseNamespace}/${c.hr.releaseName}`;
}

/** A chart may put a Secret-derived value anywhere, an object's name included: every text of an entry is scrubbed. */
function scrubEntry(entry: ChangeSetEntry, secrets: string[]): ChangeSetEntry {
  if (secrets.length === 0) return entry;
  const scrub = (text: string) => scrubSecrets(text, secrets);
  return {
    ...entry,
    id: scrub(entry.id),
    subject: scrub(entry.subject),
    ...(entry.reason ? { reason: scrub(entry.reason) } : {}),
    ...(entry.diff ? { diff: scrub(entry.diff) } : {}),
  };
}

/** driftDetection.ignore paths walk objects of this process: refuse what could reach a JS prototype. */
function ignoreRulesError(hr: FluxHelmRelease): ManifestError | undefined {
  for (const [i, rule] of (hr.spec.driftDetection?.ignore ?? []).entries()) {
    for (const [j, path] of rule.paths.entries()) {
      const why = ignorePathError(path);
      if (why) {
        return new ManifestError(
          {
            file: hr.file,
            object: helmReleaseKey(hr),
            field: `spec.driftDetection.ignore[${i}].paths[${j}]`,
          },
          why,
        );
      }
    }
  }
  return undefined;
}

async function checkDrift(c: Context, live: ReleaseRevision): Promise<void> {
  const mode = c.hr.spec.driftDetection?.mode ?? "disabled";
  if (mode === "disabled") return;
  const correct = mode === "enabled" && !c.opts.dryRun;
  let drift: Awaited<ReturnType<typeof detectDrift>>;
  try {
    const { manifest } = await readStoredRelease(c.api, live);
    drift = await detectDrift(c.api, parseManifest(manifest), {
      namespace: c.hr.releaseNamespace,
      releaseName: c.hr.releaseName,
      ignore: c.hr.spec.driftDetection?.ignore ?? [],
      correct,
      withDiff: c.opts.withDiff || mode === "warn",
    });
  } catch (err) {
    c.out.failed = true;
    c.out.message = `drift detection failed: ${(err as Error).message}`;
    c.out.error(c.out.message);
    return;
  }
  if (drift.length === 0) return;
  for (const entry of drift) {
    c.out.changes.entries.push(
      scrubEntry(
        mode === "warn" ? { ...entry, reason: "drift detected; driftDetection.mode is warn" } : entry,
        c.out.secrets,
      ),
    );
  }
  const subjects = drift.map((d) => d.subject).join(", ");
  if (mode === "warn") {
    c.out.message = `release ${c.hr.releaseName} revision ${live.revision}: drift detected in ${subjects} (not corrected: driftDetection.mode is warn)`;
  } else {
    c.out.action = c.opts.dryRun ? "unchanged" : "drift corrected";
    c.out.message = `${c.opts.dryRun ? "would correct" : "corrected"} drift in ${subjects}`;
  }
}
