// `build`, `diff` and `reconcile <cluster-path>`: the engine over a checkout, for a terminal or a CI job.

import type { KubernetesObject } from "@kubernetes/client-node";
import { defaultKustomizeOptions, type KustomizeOptions } from "../build/kustomize.js";
import { loadKubeConfig, makeObjectApi } from "../cluster/kube-client.js";
import { maskSecret } from "../cluster/ssa/mask-secrets.js";
import { MAX_TIMER_MS, parseDuration } from "../flux/duration.js";
import { isHelmRelease } from "../flux/helm-release.js";
import { renderHelmReleases } from "../helm/render.js";
import type { TreePlan } from "../reconcile/plan.js";
import { runHasChanges, runSucceeded } from "../reconcile/result.js";
import { buildTree, defaultReconcileOptions, type ProgressEvent, reconcileTree } from "../reconcile/run.js";
import { toYaml } from "../reconcile/yaml.js";
import type { FlagSpecs } from "./args.js";
import { buildOutput } from "./build-output.js";
import { runCommand } from "./command.js";
import { type CliIO, UsageError } from "./io.js";
import { buildJson, runJson, toJson } from "./json-output.js";
import { printable } from "./printable.js";
import { defaultTickMs, ProgressReporter } from "./progress.js";
import { assertReachable } from "./reachable.js";
import { renderRun } from "./render.js";
import {
  type ReleaseInput,
  type RenderedRelease,
  renderReleasesOffline,
  sourceComment,
  withChartResolver,
} from "./render-helm.js";
import { defaultScope, locate } from "./repo-root.js";
import { styleFor } from "./style.js";

export type TreeCommand = "build" | "diff" | "reconcile";

export const isTreeCommand = (c: string): c is TreeCommand =>
  c === "build" || c === "diff" || c === "reconcile";

const common = `  --repo <dir>                       Repository root (default: the enclosing git checkout)
  --allow-remote-resources[=bool]    Let kustomize fetch remote bases and resources (http(s), git); off by default
  --build-timeout <duration>         Stop a kustomize build after this long (default 2m)
  -h, --help                         Show this help
`;
const cluster = `  --kubeconfig <path>                Kubeconfig (default: $KUBECONFIG or ~/.kube/config)
  --context <name>                   Kubeconfig context (default: the current context)
  --scope <id>                       Owner of the applied Kustomizations (default: <origin URL>:<cluster-path>)
`;

export const treeUsage: Record<TreeCommand, string> = {
  build: `Usage: gitops-bot build <cluster-path> [options]

Renders every Flux Kustomization under <cluster-path> (and those they contain) with kustomize and prints the
objects as YAML. Secret values are masked. postBuild.substituteFrom needs a cluster and is not applied here.

Options:
  -o, --output <fmt>                 yaml (default) or json (see docs/cli.md)
  --render-helm[=bool]               Also print what each HelmRelease renders (helm template with its inline values,
                                     no cluster access; valuesFrom is left out with a note)
${common}`,
  diff: `Usage: gitops-bot diff <cluster-path> [options]

Server-side dry-run of the whole tree against the live cluster: per Kustomization, what would be created,
changed (with a YAML diff) and pruned. Secret values are masked.
Exit status: 0 nothing would change, 1 something would change, 2 error.

Options:
${cluster}  -o, --output <fmt>                 text (default) or json (see docs/cli.md)
${common}`,
  reconcile: `Usage: gitops-bot reconcile <cluster-path> [options]

Applies every Kustomization under <cluster-path> with server-side apply in dependency order, prunes objects
that left Git (where prune: true), waits for health (wait / healthChecks) and prints the change set.
Exit status: 0 all Ready, 2 on any failure.

Options:
${cluster}  --wait[=bool]                      Wait for health checks (default true; --wait=false or --no-wait skips them)
  -o, --output <fmt>                 text (default) or json (see docs/cli.md)
  -q, --quiet                        No progress on stderr
${common}`,
};

const flags = {
  repo: { type: "string" },
  scope: { type: "string" },
  kubeconfig: { type: "string" },
  context: { type: "string" },
  output: { type: "string", short: "o" },
  wait: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  "allow-remote-resources": { type: "boolean" },
  "build-timeout": { type: "string" },
  "render-helm": { type: "boolean" },
} as const satisfies FlagSpecs;

const clusterFlags = ["kubeconfig", "context", "scope"] as const;

export function treeCommand(command: TreeCommand, args: string[], io: CliIO): Promise<number> {
  const name = `gitops-bot ${command}`;
  return runCommand(io, args, { name, usage: treeUsage[command], flags }, async ({ values, positionals }) => {
    if (positionals.length !== 1) throw new UsageError("expects exactly one <cluster-path>");
    if (command === "build") {
      for (const f of clusterFlags)
        if (values[f] !== undefined) throw new UsageError(`build takes no --${f}`);
    }
    if (command !== "build" && values["render-helm"] !== undefined) {
      throw new UsageError(`${command} takes no --render-helm (it renders HelmReleases against the cluster)`);
    }
    if (command !== "reconcile") {
      if (values.wait !== undefined) throw new UsageError(`${command} takes no --wait (it applies nothing)`);
    }
    const output = values.output ?? (command === "build" ? "yaml" : "text");
    const allowed = command === "build" ? ["yaml", "json"] : ["text", "json"];
    if (!allowed.includes(output)) throw new UsageError(`--output must be one of ${allowed.join(", ")}`);
    const { repoDir, clusterPath } = locate(positionals[0] as string, values.repo);
    const options = {
      ...defaultReconcileOptions(repoDir, clusterPath),
      scope: values.scope ?? defaultScope(repoDir, clusterPath),
      kustomize: kustomizeOptions(values["allow-remote-resources"], values["build-timeout"]),
    };
    const started = Date.now();

    if (command === "build") {
      const { plan, releases } = values["render-helm"]
        ? await withChartResolver(options, async (tree, resolver) => {
            const plan = buildOutput(tree);
            return {
              plan,
              releases: await renderReleasesOffline(helmReleaseInputs(plan), resolver, plan.notes),
            };
          })
        : { plan: buildOutput(await buildTree(options)), releases: undefined };
      const mask = (objects: (typeof plan.kustomizations)[number]["objects"]) =>
        objects.map((o) => maskSecret(o));
      if (output === "json") {
        const result = buildJson(plan, mask, Date.now() - started, releases);
        io.out.write(toJson(result));
        return result.succeeded ? 0 : 2;
      }
      const objects = plan.kustomizations.flatMap((p) => {
        if (p.buildError) throw new Error(p.buildError);
        return mask(p.objects);
      });
      const failed = [...(releases?.values() ?? [])].flatMap((r) => (r.error ? [r.error] : []));
      for (const note of plan.notes) io.err.write(`note: ${printable(note)}\n`);
      if (failed.length > 0) throw new Error(failed.join("\n"));
      io.out.write(printable(yamlWithReleases(objects, releases)));
      return 0;
    }

    const kc = loadKubeConfig({
      kubeconfig: values.kubeconfig,
      kubeconfigFrom: "--kubeconfig",
      context: values.context,
    });
    const api = makeObjectApi(kc);
    await assertReachable(api, kc);
    const dryRun = command === "diff";
    const tty = Boolean(io.err.isTTY);
    const reporter =
      !values.quiet && output === "text"
        ? new ProgressReporter((t) => io.err.write(t), {
            tty,
            style: styleFor(io.err, io),
            tickMs: io.progressIntervalMs ?? (tty ? defaultTickMs.tty : defaultTickMs.log),
          })
        : undefined;
    let run: Awaited<ReturnType<typeof reconcileTree>>;
    try {
      run = await reconcileTree(api, {
        ...options,
        dryRun,
        withDiff: dryRun,
        skipHealth: values.wait === false,
        ...(reporter ? { onProgress: (e: ProgressEvent) => reporter.handle(e) } : {}),
        kubeConfig: kc,
      });
    } finally {
      reporter?.close();
    }
    if (output === "json") {
      io.out.write(toJson(runJson(command, run)));
    } else {
      const style = styleFor(io.out, io);
      io.out.write(
        renderRun(run, { showDiff: dryRun, style }) +
          printable(renderHelmReleases(run, { showDiff: dryRun })),
      );
    }
    if (!runSucceeded(run)) return 2;
    return dryRun && runHasChanges(run) ? 1 : 0;
  });
}

/**
 * The HelmReleases to render: the build's HelmRelease objects (substituted, as Flux would apply them), each with
 * the file it came from, then those of the plan no build printed (directly in a cluster path without plain
 * objects, which has no root Kustomization to print them).
 */
function helmReleaseInputs(plan: TreePlan): ReleaseInput[] {
  const files = new Map(plan.helmReleases.map((p) => [`${p.hr.namespace}/${p.hr.name}`, p.hr.file]));
  const printed: ReleaseInput[] = plan.kustomizations.flatMap((p) =>
    p.buildError
      ? []
      : p.objects
          .filter((o) => isHelmRelease(o))
          .map((object) => ({
            object,
            file: files.get(`${object.metadata?.namespace}/${object.metadata?.name}`) ?? p.ks.file,
          })),
  );
  const seen = new Set(
    printed.map((i) => ("object" in i ? `${i.object.metadata?.namespace}/${i.object.metadata?.name}` : "")),
  );
  const rest = plan.helmReleases
    .filter((p) => !p.parent && !seen.has(`${p.hr.namespace}/${p.hr.name}`))
    .map((p) => ({ hr: p.hr }));
  return [...printed, ...rest];
}

/**
 * YAML documents of the build; with rendered releases, each HelmRelease's objects right after it, and at the
 * end those of HelmReleases no build printed.
 */
function yamlWithReleases(objects: KubernetesObject[], releases?: Map<string, RenderedRelease>): string {
  const shown = new Set<string>();
  const renderedOf = (release: RenderedRelease) => {
    shown.add(release.key);
    const comment = sourceComment(release);
    return release.objects.map((r) => `---\n${comment}\n${toYaml(r)}`).join("");
  };
  const text = objects
    .map((o) => {
      const own = `---\n${toYaml(o)}`;
      const key = `${o.metadata?.namespace}/${o.metadata?.name}`;
      const release = isHelmRelease(o) && !shown.has(key) ? releases?.get(key) : undefined;
      return release ? own + renderedOf(release) : own;
    })
    .join("");
  const rest = [...(releases?.values() ?? [])].filter((r) => !shown.has(r.key));
  return text + rest.map(renderedOf).join("");
}

/** The kustomize bounds from the command line: remote resources only when asked for, a build timeout. */
function kustomizeOptions(allowRemote: boolean | undefined, timeout: string | undefined): KustomizeOptions {
  const defaults = defaultKustomizeOptions();
  let timeoutMs = defaults.timeoutMs;
  if (timeout !== undefined) {
    try {
      timeoutMs = parseDuration(timeout);
    } catch (err) {
      throw new UsageError(`--build-timeout: ${(err as Error).message}`);
    }
    if (timeoutMs <= 0 || timeoutMs > MAX_TIMER_MS) {
      throw new UsageError(`--build-timeout must be more than 0s and less than 24 days, not ${timeout}`);
    }
  }
  return { ...defaults, timeoutMs, allowRemoteResources: Boolean(allowRemote) };
}
