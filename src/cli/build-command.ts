// `gitops-bot build`: the plan rendered without a cluster, as YAML or JSON (with --render-helm, what each
// HelmRelease renders too). Loaded by tree-commands.ts once the command line is checked.

import type { KubernetesObject } from "@kubernetes/client-node";
import { maskSecret } from "../cluster/ssa/mask-secrets.js";
import { isHelmRelease } from "../flux/helm-release.js";
import { buildTree } from "../reconcile/build-tree.js";
import { defaultReconcileOptions } from "../reconcile/options.js";
import type { TreePlan } from "../reconcile/plan.js";
import { toYaml } from "../reconcile/yaml.js";
import { buildOutput } from "./build-output.js";
import type { CliIO } from "./io.js";
import { buildJson, toJson } from "./json-output.js";
import { printable } from "./printable.js";
import type { ReleaseInput, RenderedRelease } from "./render-helm.js";
import type { TreeInputs } from "./tree-commands.js";

export async function runBuild(inputs: TreeInputs, io: CliIO): Promise<number> {
  const { output, values, started } = inputs;
  const options = {
    ...defaultReconcileOptions(inputs.repoDir, inputs.clusterPath),
    scope: inputs.scope,
    kustomize: inputs.kustomize,
  };
  const { plan, releases } = values["render-helm"]
    ? await renderWithReleases(options)
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

/** `--render-helm`: the plan and what each of its HelmReleases renders offline (Helm loaded only then). */
async function renderWithReleases(options: ReturnType<typeof defaultReconcileOptions>) {
  const { renderReleasesOffline, withChartResolver } = await import("./render-helm.js");
  return withChartResolver(options, async (tree, resolver) => {
    const plan = buildOutput(tree);
    return { plan, releases: await renderReleasesOffline(helmReleaseInputs(plan), resolver, plan.notes) };
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

/** The comment put before each rendered object in YAML output. */
export function sourceComment(r: RenderedRelease): string {
  const chart = r.chart ? ` chart ${r.chart.name}@${r.chart.version}` : "";
  return `# Source: HelmRelease ${r.key}${chart}`;
}
