// A real API server for benchmarks: the test harness's control plane, started once per `npm run bench`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ControlPlane, ensureBinaries, startControlPlane } from "../../test/support/control-plane.js";

let plane: Promise<ControlPlane> | undefined;
let dir: string | undefined;

export function benchCluster(): Promise<ControlPlane> {
  if (!plane) {
    const binDir = ensureBinaries();
    dir = mkdtempSync(join(tmpdir(), "gitops-bot-bench-"));
    process.env.PATH = `${binDir}:${process.env.PATH}`;
    process.env.GITOPS_BOT_KUSTOMIZE ??= join(binDir, "kustomize");
    process.env.GITOPS_BOT_HELM ??= join(binDir, "helm");
    plane = startControlPlane({ dir, binDir });
  }
  return plane;
}

export async function stopBenchCluster(): Promise<void> {
  if (!plane) return;
  await (await plane).stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
