// Issue 11's Flux side-by-side benchmark: 100 Kustomizations × 4 objects on one API server, reconciled by the
// bot's engine, by `kubectl apply --server-side` of the same pre-rendered objects, and by Flux's own
// kustomize-controller (built from the Go module proxy by scripts/bench-binaries.sh) reading a GitRepository
// artifact of the same tree served from this process. Each side works in fresh namespaces of its own.
// Scenarios: cold (until every Kustomization is Ready), no-op (reconcile again, nothing changed), wait (cold with
// health checks: every Deployment rolled out on the simulated node). Beside them, the floors of the cold run: the
// same objects dry-run by kubectl and then applied (what the dry-run guarantee costs a client that builds
// nothing), and the kustomize binary alone building the 100 paths; and the CPU-seconds every run cost the
// benchmark's processes (bot or kubectl with their children, API server, etcd, controllers), which divided by the
// cores is the shortest wall time any overlap of that work could reach.
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { kustomizeBinary } from "../src/build/kustomize.js";
import { mapLimit } from "../src/reconcile/concurrency.js";
import { DEFAULT_BUILD_CONCURRENCY, defaultPlanOptions } from "../src/reconcile/plan.js";
import { buildTree } from "../src/reconcile/run.js";
import type { ControlPlane } from "../test/support/control-plane.js";
import { botInProcess } from "./support/bot-in-process.js";
import { benchCluster } from "./support/cluster.js";
import {
  type ArtifactServer,
  ensureFluxBinaries,
  type FluxController,
  putGitRepository,
  startArtifactServer,
  startFluxController,
  waitKustomizationsReady,
} from "./support/flux.js";
import {
  KUSTOMIZATIONS,
  kustomizations,
  OBJECTS_PER_KUSTOMIZATION,
  writeApps,
  writeClusterPath,
} from "./support/flux-tree.js";
import { ms, printTable } from "./support/table.js";
import { type BotRun, botRun, kubectl, timed } from "./support/timed.js";
import { busyShare, cores, sampleTreeCpu, withTreeCpu } from "./support/tree-cpu.js";

/** bot: a fresh process; bot-warm: the engine in a running replica; kubectl-dry: dry-run, then apply. */
type Side = "bot" | "bot-warm" | "kubectl" | "kubectl-dry" | "flux";
const SIDES: Side[] = ["bot", "bot-warm", "kubectl", "kubectl-dry", "flux"];
type Scenario = "cold" | "wait";

interface Context {
  plane: ControlPlane;
  kc: string;
  work: string;
  tree: string;
  ns: (side: Side, scenario: Scenario) => string;
  paths: Map<string, string>;
  flux: FluxController;
}

const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

async function createNamespaces(kc: string, names: string[]): Promise<void> {
  for (const name of names) await kubectl(kc, ["create", "namespace", name]);
}

/** Lets kube-controller-manager and kwok finish rolling out a side's Deployments before the next side is timed. */
async function settle(kc: string, ns: string): Promise<void> {
  await kubectl(kc, ["wait", "--for=condition=Available", "deployment", "--all", "-n", ns, "--timeout=300s"]);
}

/** kubectl gets the objects the bot's build renders for its own cluster path, in one file. */
async function renderForKubectl(
  ctx: Context,
  scenario: Scenario,
  side: "kubectl" | "kubectl-dry" = "kubectl",
): Promise<string> {
  const plan = await buildTree({
    repoDir: ctx.tree,
    ...defaultPlanOptions(ctx.paths.get(`${side}-${scenario}`) as string),
  });
  const objects = plan.kustomizations.flatMap((k) => k.objects);
  if (objects.length !== KUSTOMIZATIONS * OBJECTS_PER_KUSTOMIZATION)
    throw new Error(
      `rendered ${objects.length} objects for kubectl, expected ${KUSTOMIZATIONS * OBJECTS_PER_KUSTOMIZATION}`,
    );
  const file = join(ctx.work, `${side}-${scenario}.yaml`);
  writeFileSync(file, objects.map((o) => stringify(o)).join("---\n"));
  return file;
}

async function kubectlApply(
  ctx: Context,
  file: string,
  ns: string,
  wait: boolean,
  dryRunFirst = false,
): Promise<number> {
  const apply = ["apply", "--server-side", "--field-manager=kubectl-bench", "-f", file];
  let total = dryRunFirst ? (await kubectl(ctx.kc, [...apply, "--dry-run=server"])).ms : 0;
  total += (await kubectl(ctx.kc, apply)).ms;
  if (wait)
    total += (
      await kubectl(ctx.kc, [
        "wait",
        "--for=condition=Available",
        "deployment",
        "--all",
        "-n",
        ns,
        "--timeout=300s",
      ])
    ).ms;
  return total;
}

async function fluxCold(ctx: Context, scenario: Scenario): Promise<number> {
  const ns = ctx.ns("flux", scenario);
  const file = join(ctx.tree, ctx.paths.get(`flux-${scenario}`) as string, "kustomizations.yaml");
  const started = performance.now();
  await kubectl(ctx.kc, ["apply", "--server-side", "--field-manager=bench", "-f", file]);
  const readyAt = await waitKustomizationsReady(ctx.plane, ns, KUSTOMIZATIONS, {
    timeoutMs: 600_000,
    process: ctx.flux.process,
  });
  return readyAt - started;
}

async function fluxNoop(ctx: Context): Promise<number> {
  const ns = ctx.ns("flux", "cold");
  const token = new Date().toISOString();
  const started = performance.now();
  await kubectl(ctx.kc, [
    "annotate",
    "--overwrite",
    "kustomizations",
    "--all",
    "-n",
    ns,
    `reconcile.fluxcd.io/requestedAt=${token}`,
  ]);
  const readyAt = await waitKustomizationsReady(ctx.plane, ns, KUSTOMIZATIONS, {
    handled: token,
    timeoutMs: 600_000,
    process: ctx.flux.process,
  });
  return readyAt - started;
}

/** The kustomize binary alone on every app path, as many at once as the bot builds (its build phase's floor). */
async function kustomizeAlone(tree: string): Promise<number> {
  const started = performance.now();
  const paths = Array.from({ length: KUSTOMIZATIONS }, (_, i) => join(tree, "apps", `app-${i}`));
  await mapLimit(paths, DEFAULT_BUILD_CONCURRENCY, (dir) =>
    timed(kustomizeBinary(), ["build", "--load-restrictor", "LoadRestrictionsNone", dir]),
  );
  return performance.now() - started;
}

interface Row {
  scenario: string;
  bot: BotRun;
  kubectl: number;
  flux: number;
  /** Share of all cores the benchmark's processes kept busy in the bot's build and apply phases. */
  busy?: { build?: number; apply?: number };
}

/** A bot run with the machine's busy share in its build and apply phases (from CPU samples taken meanwhile). */
async function withPhaseBusy(run: () => Promise<BotRun>): Promise<{ run: BotRun; busy: Row["busy"] }> {
  const sampler = sampleTreeCpu(100);
  const t0 = performance.now();
  const result = await run();
  const samples = sampler.stop();
  // Process start is the wall time the engine did not see (fresh process); the phases follow it.
  const engineStart = t0 + (result.ms - result.engineMs);
  const planned = engineStart + result.plannedMs;
  return {
    run: result,
    busy: {
      build: busyShare(samples, engineStart, planned),
      apply: busyShare(samples, planned, engineStart + result.lastAppliedMs),
    },
  };
}

const percent = (share: number | undefined) => (share === undefined ? "n/a" : `${Math.round(share * 100)} %`);

/** One timed run and the CPU-seconds the benchmark's processes spent meanwhile. */
interface Work {
  run: string;
  ms: number;
  cpuSeconds?: number;
}

async function measured<T>(
  work: Work[],
  run: string,
  fn: () => Promise<T>,
  msOf: (value: T) => number,
): Promise<T> {
  const { value, cpuSeconds } = await withTreeCpu(fn);
  work.push({ run, ms: msOf(value), ...(cpuSeconds !== undefined ? { cpuSeconds } : {}) });
  return value;
}

const botMs = (r: BotRun) => r.ms;
const IDLE_SAMPLE_MS = 5_000;
const same = (n: number) => n;

export async function run(): Promise<void> {
  const plane = await benchCluster();
  const bins = ensureFluxBinaries();
  await plane.workloadsReady;
  const kc = plane.kubeconfigPath;
  const work = mkdtempSync(join(tmpdir(), "gitops-bot-bench-flux-"));
  const suffix = Date.now().toString(36);
  const ns = (side: Side, scenario: Scenario) => `fx-${suffix}-${side}-${scenario}`;
  const allNamespaces = SIDES.flatMap((s) => (["cold", "wait"] as Scenario[]).map((sc) => ns(s, sc)));
  let server: ArtifactServer | undefined;
  let flux: FluxController | undefined;
  // The bot's build cache of this run only (as a replica has its own): other processes on the machine writing
  // ~/.cache/gitops-bot/builds would otherwise evict the cold run's entries before the no-op reads them. Cold
  // runs never hit it (fresh namespaces are part of every build's key).
  const cacheBefore = process.env.GITOPS_BOT_BUILD_CACHE;
  if (cacheBefore !== "off") process.env.GITOPS_BOT_BUILD_CACHE = join(work, "build-cache");
  try {
    const tree = join(work, "tree");
    writeApps(tree);
    const paths = new Map<string, string>();
    for (const side of SIDES)
      for (const scenario of ["cold", "wait"] as Scenario[])
        paths.set(
          `${side}-${scenario}`,
          writeClusterPath(
            tree,
            `${side}-${scenario}`,
            kustomizations(ns(side, scenario), scenario === "wait"),
          ),
        );

    // The CRDs kustomize-controller watches (Kustomization and the source kinds), then the controller itself.
    await kubectl(kc, ["apply", "--server-side", "-f", realpathSync(bins.crdDir)]);
    await kubectl(kc, [
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      "crd/kustomizations.kustomize.toolkit.fluxcd.io",
      "crd/gitrepositories.source.toolkit.fluxcd.io",
      "crd/ocirepositories.source.toolkit.fluxcd.io",
      "crd/buckets.source.toolkit.fluxcd.io",
    ]);
    server = await startArtifactServer(work);
    const artifact = server.publish(tree);
    flux = await startFluxController(plane, bins, join(work, "logs"));
    const ctx: Context = { plane, kc, work, tree, ns, paths, flux };
    console.log(
      `Flux side-by-side: ${KUSTOMIZATIONS} Kustomizations × ${OBJECTS_PER_KUSTOMIZATION} objects on kube-apiserver ${plane.version}; kustomize-controller ${bins.controller} (TMPDIR on ${flux.tmpMedium}; bench-binaries ${ms(bins.buildMs)}); artifact ${artifact.revision} (${artifact.size} bytes)`,
    );

    const rows: Row[] = [];
    const spent: Work[] = [];
    // What the control plane and the controllers burn doing nothing (leases, heartbeats, resyncs): subtracted
    // from each run's CPU-seconds in proportion to its wall time, so that the work column is the run's own.
    const idle = await withTreeCpu(
      () => new Promise<number>((r) => setTimeout(() => r(IDLE_SAMPLE_MS), IDLE_SAMPLE_MS)),
    );
    const idlePerSecond = idle.cpuSeconds === undefined ? 0 : idle.cpuSeconds / (IDLE_SAMPLE_MS / 1000);
    // Cold: fresh namespaces, nothing applied yet.
    await createNamespaces(
      kc,
      SIDES.map((s) => ns(s, "cold")),
    );
    await putGitRepository(plane, ns("flux", "cold"), artifact);
    const botColdPhases = await measured(
      spent,
      "cold: bot, fresh process",
      () => withPhaseBusy(() => botRun(tree, paths.get("bot-cold") as string, kc, { health: false })),
      (r) => r.run.ms,
    );
    const botCold = botColdPhases.run;
    await settle(kc, ns("bot", "cold"));
    const kubectlColdFile = await renderForKubectl(ctx, "cold");
    const kubectlCold = await measured(
      spent,
      "cold: kubectl apply",
      () => kubectlApply(ctx, kubectlColdFile, ns("kubectl", "cold"), false),
      same,
    );
    await settle(kc, ns("kubectl", "cold"));
    const kubectlDryFile = await renderForKubectl(ctx, "cold", "kubectl-dry");
    const kubectlDry = await measured(
      spent,
      "cold: kubectl dry-run, then apply",
      () => kubectlApply(ctx, kubectlDryFile, ns("kubectl-dry", "cold"), false, true),
      same,
    );
    await settle(kc, ns("kubectl-dry", "cold"));
    const kustomizeMs = await measured(
      spent,
      `kustomize build × ${KUSTOMIZATIONS} alone (${DEFAULT_BUILD_CONCURRENCY} at once)`,
      () => kustomizeAlone(tree),
      same,
    );
    const fluxColdMs = await measured(spent, "cold: Flux", () => fluxCold(ctx, "cold"), same);
    await settle(kc, ns("flux", "cold"));
    rows.push({
      scenario: "cold",
      bot: botCold,
      kubectl: kubectlCold,
      flux: fluxColdMs,
      busy: botColdPhases.busy,
    });

    // No-op: the same tree again on the same namespaces.
    const botNoop = await measured(
      spent,
      "no-op: bot, fresh process",
      () => botRun(tree, paths.get("bot-cold") as string, kc, { health: false }),
      botMs,
    );
    const kubectlNoop = await measured(
      spent,
      "no-op: kubectl apply",
      () => kubectlApply(ctx, kubectlColdFile, ns("kubectl", "cold"), false),
      same,
    );
    const fluxNoopMs = await measured(spent, "no-op: Flux", () => fluxNoop(ctx), same);
    rows.push({ scenario: "no-op", bot: botNoop, kubectl: kubectlNoop, flux: fluxNoopMs });
    // The same no-op in a running bot (as its schedule reconciles; Flux's figure is a warm controller's too).
    // Warmed up apart (one untimed run), so that the work column counts the timed run only.
    await botInProcess(tree, paths.get("bot-cold") as string, kc);
    const botWarm = await measured(
      spent,
      "no-op: bot, in-process",
      () => botInProcess(tree, paths.get("bot-cold") as string, kc, "noop", { warmUp: false }),
      botMs,
    );
    rows.push({
      scenario: "no-op, bot warm (in-process)",
      bot: botWarm,
      kubectl: kubectlNoop,
      flux: fluxNoopMs,
    });
    // Cold in a running bot: the replica (modules loaded, its API client warm) gets a new cluster path.
    const botWarmColdPhases = await measured(
      spent,
      "cold: bot, in-process",
      () => withPhaseBusy(() => botInProcess(tree, paths.get("bot-warm-cold") as string, kc, "cold")),
      (r) => r.run.ms,
    );
    const botWarmCold = botWarmColdPhases.run;
    await settle(kc, ns("bot-warm", "cold"));
    rows.push({
      scenario: "cold, bot warm (in-process)",
      bot: botWarmCold,
      kubectl: kubectlCold,
      flux: fluxColdMs,
      busy: botWarmColdPhases.busy,
    });

    // Wait: cold again in fresh namespaces, each Kustomization health-checked (the node holds 1,000 pods: the cold
    // namespaces go first).
    await kubectl(kc, ["delete", "namespace", ...SIDES.map((s) => ns(s, "cold"))]);
    await createNamespaces(
      kc,
      ["bot", "kubectl", "flux"].map((s) => ns(s as Side, "wait")),
    );
    await putGitRepository(plane, ns("flux", "wait"), artifact);
    const botWait = await measured(
      spent,
      "wait: bot, fresh process",
      () => botRun(tree, paths.get("bot-wait") as string, kc, { health: true }),
      botMs,
    );
    const kubectlWaitFile = await renderForKubectl(ctx, "wait");
    const kubectlWait = await measured(
      spent,
      "wait: kubectl apply, wait",
      () => kubectlApply(ctx, kubectlWaitFile, ns("kubectl", "wait"), true),
      same,
    );
    const fluxWaitMs = await measured(spent, "wait: Flux", () => fluxCold(ctx, "wait"), same);
    rows.push({ scenario: "wait (health-checked)", bot: botWait, kubectl: kubectlWait, flux: fluxWaitMs });

    printTable(
      `Flux side-by-side, ${KUSTOMIZATIONS} Kustomizations × ${OBJECTS_PER_KUSTOMIZATION} objects (wall time; bot and kubectl include process start, Flux's controller runs warm; goals: cold ≤ 1.3× kubectl, no-op ≤ 0.5× kubectl)`,
      [
        "scenario",
        "gitops-bot",
        "kubectl --server-side",
        "Flux kustomize-controller",
        "bot/kubectl",
        "bot/Flux",
      ],
      rows.map((r) => [
        r.scenario,
        ms(r.bot.ms),
        ms(r.kubectl),
        ms(r.flux),
        ratio(r.bot.ms, r.kubectl),
        ratio(r.bot.ms, r.flux),
      ]),
    );
    printTable(
      "gitops-bot phases (from the engine's progress events, ms since the engine started; process start = wall − engine; API requests of the run per Kustomization; busy: share of all cores the benchmark's processes kept busy in the build and apply phases)",
      [
        "scenario",
        "process start",
        "build (planned)",
        "first apply done",
        "last apply done",
        "engine total",
        "requests / Kustomization",
        "result",
        "busy: build / apply",
      ],
      rows.map((r) => [
        r.scenario,
        ms(r.bot.ms - r.bot.engineMs),
        ms(r.bot.plannedMs),
        ms(r.bot.firstAppliedMs ?? Number.NaN),
        ms(r.bot.lastAppliedMs),
        ms(r.bot.engineMs),
        (Object.values(r.bot.requests).reduce((a, b) => a + b, 0) / r.bot.kustomizations).toFixed(1),
        `${r.bot.created} created, ${r.bot.unchanged} unchanged`,
        r.busy ? `${percent(r.busy.build)} / ${percent(r.busy.apply)}` : "",
      ]),
    );
    printTable(
      `The cold run's floors (same run): dry-run then apply is what the bot's dry-run guarantee costs a client that builds nothing; kustomize alone is its build phase without the engine`,
      ["floor", "wall", "bot cold (fresh) / floor", "bot cold (in-process) / floor"],
      [
        ["kubectl apply (the goal's baseline)", kubectlCold],
        ["kubectl dry-run, then apply", kubectlDry],
        [`kustomize build × ${KUSTOMIZATIONS} alone`, kustomizeMs],
        ["kustomize alone + kubectl dry-run, then apply", kustomizeMs + kubectlDry],
      ].map(([name, floor]) => [
        name as string,
        ms(floor as number),
        ratio(botCold.ms, floor as number),
        ratio(botWarmCold.ms, floor as number),
      ]),
    );
    printTable(
      `Work: CPU-seconds of the benchmark's processes during each run (bot or kubectl with their children, API server, etcd, controllers, kwok; other load on the machine not counted; the control plane's idle ${idlePerSecond.toFixed(2)} CPU-s per second, measured first, taken off) — on ${cores} cores, work / ${cores} is the shortest wall time any overlap of it could reach`,
      ["run", "wall", "CPU-s (work)", `work / ${cores}`, "busy (of all cores)"],
      spent.map((w) => {
        if (w.cpuSeconds === undefined) return [w.run, ms(w.ms), "n/a", "n/a", "n/a"];
        const work = Math.max(0, w.cpuSeconds - (idlePerSecond * w.ms) / 1000);
        return [
          w.run,
          ms(w.ms),
          work.toFixed(1),
          ms((work / cores) * 1000),
          `${Math.round((w.cpuSeconds * 1000 * 100) / (w.ms * cores))} %`,
        ];
      }),
    );
    console.log(`artifact server: ${server.requests()} tarball requests from kustomize-controller`);
  } catch (err) {
    if (flux) console.error(`kustomize-controller log tail:\n${flux.process.tail(30)}`);
    throw err;
  } finally {
    await flux?.stop();
    await server?.close();
    await kubectl(kc, ["delete", "namespace", "--ignore-not-found", "--wait=false", ...allNamespaces]).catch(
      () => undefined,
    );
    rmSync(work, { recursive: true, force: true });
    if (cacheBefore === undefined) delete process.env.GITOPS_BOT_BUILD_CACHE;
    else process.env.GITOPS_BOT_BUILD_CACHE = cacheBefore;
  }
}
