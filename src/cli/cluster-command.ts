// `gitops-bot diff` and `reconcile`: the engine against a live cluster (server-side dry-run, or apply, prune and
// wait), with progress on stderr and the change set on stdout. Loaded by tree-commands.ts once the command line
// is checked.

import { loadKubeConfig, makeObjectApi } from "../cluster/kube-client.js";
import { renderHelmReleases } from "../helm/render.js";
import { runHasChanges, runSucceeded } from "../reconcile/result.js";
import { defaultReconcileOptions, type ProgressEvent, reconcileTree } from "../reconcile/run.js";
import type { CliIO } from "./io.js";
import { runJson, toJson } from "./json-output.js";
import { printable } from "./printable.js";
import { defaultTickMs, ProgressReporter } from "./progress.js";
import { assertReachable } from "./reachable.js";
import { renderRun } from "./render.js";
import { styleFor } from "./style.js";
import type { TreeCommand, TreeInputs } from "./tree-commands.js";

export async function runOnCluster(
  command: Exclude<TreeCommand, "build">,
  inputs: TreeInputs,
  io: CliIO,
): Promise<number> {
  const { output, values } = inputs;
  const options = {
    ...defaultReconcileOptions(inputs.repoDir, inputs.clusterPath),
    scope: inputs.scope,
    kustomize: inputs.kustomize,
  };
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
      renderRun(run, { showDiff: dryRun, style }) + printable(renderHelmReleases(run, { showDiff: dryRun })),
    );
  }
  if (!runSucceeded(run)) return 2;
  return dryRun && runHasChanges(run) ? 1 : 0;
}
