// OCIRepository: a Flux artifact (or any single-layer artifact) extracted for Kustomizations, or a chart
// layer for HelmRelease chartRef.
import { type OCIRepositorySource, sourceKey } from "../../../flux/sources.js";
import { cached, cachePath } from "../../cache.js";
import { displayUrl } from "../../credentials.js";
import {
  extractLayer,
  FLUX_CONTENT_MEDIA_TYPE,
  HELM_CHART_MEDIA_TYPE,
  type OciManifest,
  readChartYaml,
} from "../../oci.js";
import { assertNoEscapingSymlinks } from "../../repo-path.js";
import { chartMetadata } from "../chart-directory.js";
import { ociRepositoryManifest } from "../registry.js";
import type { SourceKindModule } from "../types.js";

export const ociRepository: SourceKindModule<OCIRepositorySource> = {
  kind: "OCIRepository",
  displayUrl: (source) => displayUrl(source.spec.url),
  async artifact(source, ctx) {
    const { client, manifest, revision, scope } = await ociRepositoryManifest(source, ctx);
    const hasFluxLayer = manifest.layers.some((l) => l.mediaType === FLUX_CONTENT_MEDIA_TYPE);
    const layer = selectLayer(source, manifest, hasFluxLayer ? FLUX_CONTENT_MEDIA_TYPE : undefined);
    if (source.spec.layerSelector?.operation === "copy") {
      throw new Error("layerSelector.operation copy is only supported for charts (HelmRelease chartRef)");
    }
    // The digest was checked (sha256:<64 hex>) when the manifest was read; only then may it name a directory.
    const blob = await client.blob(ctx.cacheDir, layer.digest, { scope, size: layer.size });
    const dir = await cached(
      cachePath(ctx.cacheDir, `oci-extracted/${scope}`, layer.digest.slice("sha256:".length)),
      (tmp) => extractLayer(blob, tmp, `OCI layer ${layer.digest}`),
    );
    assertNoEscapingSymlinks(dir, dir);
    return { dir, revision };
  },
  async chartRef(source, _hr, ctx) {
    const { client, manifest, revision, scope } = await ociRepositoryManifest(source, ctx);
    const layer = selectLayer(source, manifest, HELM_CHART_MEDIA_TYPE);
    const path = await client.blob(ctx.cacheDir, layer.digest, { scope, size: layer.size });
    const what = `chart layer ${layer.digest}`;
    const meta = chartMetadata(await readChartYaml(path, what), what);
    return { path, ...meta, source: `${sourceKey(source)}@${revision}`, revision };
  },
};

function selectLayer(source: OCIRepositorySource, manifest: OciManifest, preferred?: string) {
  const wanted = source.spec.layerSelector?.mediaType ?? preferred;
  const layer = wanted ? manifest.layers.find((l) => l.mediaType === wanted) : manifest.layers[0];
  if (!layer) {
    throw new Error(
      wanted
        ? `the artifact has no layer of media type ${wanted} (it has ${manifest.layers.map((l) => l.mediaType).join(", ") || "none"})`
        : "the artifact has no layers",
    );
  }
  return layer;
}
