// A chart that is a directory inside a source's files (GitRepository charts, ExternalArtifact charts): the
// path checked against the root, Chart.yaml read, and Flux's Revision strategy applied.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import type { FluxHelmRelease } from "../../flux/helm-release.js";
import type { ResolvedChart } from "../../helm/release.js";
import { assertNoEscapingSymlinks, listFiles, resolveInRepo } from "../repo-path.js";

export function chartMetadata(text: string, where: string): { name: string; version: string } {
  const meta = parse(text) as { name?: unknown; version?: unknown } | null;
  if (typeof meta?.name !== "string" || typeof meta.version !== "string") {
    throw new Error(`${where}: Chart.yaml needs a name and a version`);
  }
  return { name: meta.name, version: meta.version };
}

export function chartFromDirectory(opts: {
  root: string;
  chartPath: string;
  hr: FluxHelmRelease;
  field: string;
  strategy?: "ChartVersion" | "Revision";
  source: string;
}): ResolvedChart {
  const { root, chartPath, hr } = opts;
  const where = { file: hr.file, object: `HelmRelease/${hr.namespace}/${hr.name}`, field: opts.field };
  const dir = resolveInRepo(root, chartPath, where);
  if (!existsSync(join(dir, "Chart.yaml"))) throw new Error(`${chartPath} has no Chart.yaml`);
  assertNoEscapingSymlinks(root, dir);
  const meta = chartMetadata(readFileSync(join(dir, "Chart.yaml"), "utf8"), chartPath);
  // Flux's Revision strategy: a new chart build for every content change, not only version bumps.
  const version =
    opts.strategy === "Revision" ? `${meta.version}+${directoryDigest(dir).slice(0, 12)}` : meta.version;
  return { path: dir, name: meta.name, version, source: opts.source, root };
}

function directoryDigest(dir: string): string {
  const hash = createHash("sha256");
  for (const file of listFiles(dir)) {
    if (!statSync(file).isFile()) continue;
    hash.update(file.slice(dir.length));
    hash.update(readFileSync(file));
  }
  return hash.digest("hex");
}
