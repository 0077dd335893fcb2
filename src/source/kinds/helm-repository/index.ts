// HelmRepository: charts by name and version from an HTTP repository's index.yaml, or from an OCI registry
// (type oci). It has no files for a Kustomization (no `artifact`).
import { type HelmRepositorySource, sourceKey } from "../../../flux/sources.js";
import { credentialScope } from "../../cache.js";
import { displayUrl } from "../../credentials.js";
import { downloadChart, fetchHelmIndex, findChart } from "../../helm-repository.js";
import { assertManifestReference, HELM_CHART_MEDIA_TYPE, readChartYaml, selectTag } from "../../oci.js";
import { chartMetadata } from "../chart-directory.js";
import { registryClient } from "../registry.js";
import type { ChartSpec, SourceChart, SourceContext, SourceKindModule } from "../types.js";

export const helmRepository: SourceKindModule<HelmRepositorySource> = {
  kind: "HelmRepository",
  displayUrl: (source) => displayUrl(source.spec.url),
  chart: (source, spec, _hr, ctx) =>
    source.spec.type === "oci" ? ociChart(source, spec, ctx) : indexChart(source, spec, ctx),
};

async function ociChart(
  source: HelmRepositorySource,
  spec: ChartSpec,
  ctx: SourceContext,
): Promise<SourceChart> {
  const url = `${source.spec.url.replace(/\/+$/, "")}/${spec.chart}`;
  const { client, scope } = await registryClient(url, source, ctx);
  const tags = await client.tags();
  const wanted = spec.version ?? "*";
  const tag =
    tags.includes(wanted) || tags.includes(wanted.replaceAll("+", "_"))
      ? wanted.replaceAll("+", "_")
      : selectTag(tags, wanted);
  if (!tag) throw new Error(`no version of chart "${spec.chart}" matches "${wanted}"`);
  const manifest = await client.manifest(assertManifestReference(tag));
  const layer = manifest.layers.find((l) => l.mediaType === HELM_CHART_MEDIA_TYPE);
  if (!layer) throw new Error(`${spec.chart}:${tag} is not a Helm chart (no ${HELM_CHART_MEDIA_TYPE} layer)`);
  const path = await client.blob(ctx.cacheDir, layer.digest, { scope, size: layer.size });
  const what = `chart ${spec.chart}:${tag}`;
  const meta = chartMetadata(await readChartYaml(path, what), what);
  const revision = `${tag}@${manifest.digest}`;
  return { path, ...meta, source: `${sourceKey(source)}@${revision}`, revision };
}

async function indexChart(
  source: HelmRepositorySource,
  spec: ChartSpec,
  ctx: SourceContext,
): Promise<SourceChart> {
  const auth = await ctx.basicAuth(source);
  const { index, revision } = await ctx.once(`helm-index ${sourceKey(source)}`, () =>
    fetchHelmIndex(source.spec.url, auth, { timeoutMs: ctx.timeoutOf(source), policy: ctx.outbound }),
  );
  const entry = findChart(index, spec.chart, spec.version);
  const path = await downloadChart(ctx.cacheDir, source.spec.url, entry, auth, {
    passCredentials: source.spec.passCredentials ?? false,
    timeoutMs: ctx.timeoutOf(source),
    scope: credentialScope(ctx.cacheDir, auth),
    policy: ctx.outbound,
  });
  return {
    path,
    name: entry.name,
    version: entry.version,
    source: `${sourceKey(source)}@${revision}`,
    revision,
  };
}
