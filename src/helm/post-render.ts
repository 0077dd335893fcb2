// HelmRelease postRenderers (kustomize patches and images) and commonMetadata, run by helm itself: Helm 4
// takes post-renderers only as plugins, so each distinct configuration becomes a small postrenderer/v1
// plugin in the run's private HELM_PLUGINS directory that pipes the rendered manifest through `kustomize`.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FluxHelmRelease } from "../flux/helm-release.js";
import { assertBoundedPatches } from "../flux/yaml-alias-bound.js";
import { toYaml } from "../reconcile/yaml.js";
import type { HelmSession } from "./helm-cli.js";

const script = `#!/bin/sh
set -e
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/all.yaml"
cp "$HELM_PLUGIN_DIR/kustomization.yaml" "$dir/kustomization.yaml"
exec "\${GITOPS_BOT_KUSTOMIZE:-kustomize}" build "$dir"
`;

/** The kustomization that post-renders a release's manifest, or undefined when nothing needs it. */
export function postRenderKustomization(hr: FluxHelmRelease): Record<string, unknown> | undefined {
  // Inline patches are YAML kustomize parses: held to the same alias bound as a Kustomization's.
  (hr.spec.postRenderers ?? []).forEach((r, i) => {
    assertBoundedPatches(r.kustomize?.patches, {
      file: hr.file,
      object: `HelmRelease/${hr.namespace}/${hr.name}`,
      field: `spec.postRenderers[${i}].kustomize.patches`,
    });
  });
  const patches = (hr.spec.postRenderers ?? []).flatMap((r) => r.kustomize?.patches ?? []);
  const images = (hr.spec.postRenderers ?? []).flatMap((r) => r.kustomize?.images ?? []);
  const common = hr.spec.commonMetadata;
  if (patches.length === 0 && images.length === 0 && !common?.labels && !common?.annotations)
    return undefined;
  return {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: ["all.yaml"],
    ...(patches.length ? { patches } : {}),
    ...(images.length ? { images } : {}),
    ...(common?.labels ? { labels: [{ pairs: common.labels, includeSelectors: false }] } : {}),
    ...(common?.annotations ? { commonAnnotations: common.annotations } : {}),
  };
}

/** Installs (once per run and configuration) the plugin for this HelmRelease; returns its name. */
export async function postRendererPlugin(
  helm: HelmSession,
  hr: FluxHelmRelease,
): Promise<string | undefined> {
  const kustomization = postRenderKustomization(hr);
  if (!kustomization) return undefined;
  const text = toYaml(kustomization);
  const name = `gitops-bot-postrender-${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
  const dir = join(helm.pluginsDir, name);
  if (existsSync(dir)) return name;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "kustomization.yaml"), text);
  writeFileSync(join(dir, "render.sh"), script, { mode: 0o755 });
  writeFileSync(
    join(dir, "plugin.yaml"),
    toYaml({
      apiVersion: "v1",
      type: "postrenderer/v1",
      name,
      version: "0.1.0",
      runtime: "subprocess",
      runtimeConfig: { platformCommand: [{ command: "${HELM_PLUGIN_DIR}/render.sh" }] },
    }),
  );
  return name;
}
