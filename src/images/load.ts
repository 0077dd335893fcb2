// Reads the image automation objects under a path of a repository.
import { parseManifests } from "../flux/manifests.js";
import type { RepositoryFiles } from "./repository-files.js";
import { IMAGE_GROUP, type ImageAutomationObjects, readImageAutomationObjects } from "./resources.js";

/**
 * Files that do not mention the image API group are not parsed at all, so Helm values files and other
 * non-Kubernetes YAML under the path never fail a scan.
 */
export async function loadImageAutomation(
  files: RepositoryFiles,
  dir: string,
): Promise<ImageAutomationObjects> {
  const objects = [];
  for (const file of await files.listYamlFiles(dir)) {
    const text = await files.read(file);
    if (!text.includes(IMAGE_GROUP)) continue;
    objects.push(...parseManifests(text, file));
  }
  return readImageAutomationObjects(objects);
}
