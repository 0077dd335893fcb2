// Planning an update: run the setters over every YAML file under an ImageUpdateAutomation's `update.path`.
// Pure apart from reading files; writing them (to disk, or as a commit) is the caller's business.
import type { RepositoryFiles } from "./repository-files.js";
import { normaliseRepositoryPath } from "./repository-files.js";
import type { ImageUpdateAutomation } from "./resources.js";
import { applySetters, type LatestImage, type SetterChange } from "./setters.js";

export interface FileUpdate {
  file: string;
  before: string;
  after: string;
}

export interface ImageUpdatePlan {
  files: FileUpdate[];
  changes: SetterChange[];
  /** Markers that name a policy without a chosen tag. */
  unresolved: { file: string; line: number; policy: string }[];
}

export async function planImageUpdate(
  files: RepositoryFiles,
  updatePath: string | undefined,
  latest: ReadonlyMap<string, LatestImage>,
): Promise<ImageUpdatePlan> {
  const plan: ImageUpdatePlan = { files: [], changes: [], unresolved: [] };
  for (const file of await files.listYamlFiles(normaliseRepositoryPath(updatePath))) {
    const before = await files.read(file);
    const result = applySetters(before, file, latest);
    plan.unresolved.push(...result.unresolved.map((u) => ({ file, ...u })));
    if (result.changes.length === 0) continue;
    plan.files.push({ file, before, after: result.text });
    plan.changes.push(...result.changes);
  }
  return plan;
}

/** `update.path` of an automation, Flux's default being the repository root. */
export const automationUpdatePath = (automation: ImageUpdateAutomation) => automation.spec.update.path;
