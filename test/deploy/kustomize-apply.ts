// The shipped manifests as an operator uses them: `kustomize build` of deploy/ (through a throwaway overlay
// that gives each test its own namespace and name suffix, so tests share one API server), then
// `kubectl apply --server-side` against the harness's API server.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { inject } from "vitest";

export const deployDir = new URL("../../deploy/", import.meta.url).pathname;

export interface ToolOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bin(tool: "kustomize" | "kubectl"): string {
  return join(inject("binDir"), tool);
}

export function kustomizeBuild(dir: string): ToolOutput {
  const r = spawnSync(bin("kustomize"), ["build", dir], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Builds `path` (relative to deploy/) inside an overlay that sets `namespace` and a name suffix, plus any
 * components (paths relative to deploy/).
 */
export function buildIsolated(
  path: string,
  opts: { namespace: string; suffix: string; components?: string[] },
): string {
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-deploy-"));
  try {
    writeFileSync(
      join(dir, "kustomization.yaml"),
      `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: "${opts.namespace}"
nameSuffix: "-${opts.suffix}"
resources:
  - ${relative(dir, join(deployDir, path))}
${opts.components ? `components:\n${opts.components.map((c) => `  - ${relative(dir, join(deployDir, c))}\n`).join("")}` : ""}`,
    );
    const built = kustomizeBuild(dir);
    if (built.code !== 0) throw new Error(`kustomize build of deploy/${path} failed:\n${built.stderr}`);
    return built.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `kubectl apply --server-side` of YAML on stdin, as the test harness's admin. */
export function kubectlApply(yaml: string, opts: { dryRun?: boolean } = {}): ToolOutput {
  const args = [
    "--kubeconfig",
    inject("kubeconfigPath"),
    "apply",
    "--server-side",
    "--field-manager=gitops-bot-deploy-test",
    ...(opts.dryRun ? ["--dry-run=server"] : []),
    "-f",
    "-",
  ];
  const r = spawnSync(bin("kubectl"), args, { input: yaml, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
