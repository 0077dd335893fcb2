// The one interface every source kind implements (Renovate's `lib/modules/` shape): a folder per kind under
// src/source/kinds/<kind>/, registered in src/source/kinds/index.ts. The resolver (src/source/resolver.ts)
// knows no kind by name: it looks the kind up in the map and calls what the module offers. A kind that cannot
// serve a request (a HelmRepository asked for a Kustomization's files) simply lacks that method, and the
// resolver says so with the field.
import type { FluxHelmRelease } from "../../flux/helm-release.js";
import type { FluxSource } from "../../flux/sources.js";
import type { ResolvedChart } from "../../helm/release.js";
import type { OutboundPolicy } from "../../util/outbound/index.js";
import type { BasicAuth } from "../credentials.js";

export interface SourceArtifact {
  dir: string;
  revision: string;
  /** The revision the artifact was made from (ExternalArtifact `originRevision`), as Flux reports it. */
  originRevision?: string;
}

export interface SourceRef {
  kind: string;
  name: string;
  namespace?: string;
}

/** What the resolver lends a kind module for one fetch: bounds, policy, credentials and the other sources. */
export interface SourceContext {
  cacheDir: string;
  outbound: OutboundPolicy;
  /** The source's spec.timeout, capped by the operator's maximum. */
  timeoutOf(source: FluxSource): number;
  /** The data of the Secret named by spec.secretRef, if any. */
  secretData(source: FluxSource): Promise<Record<string, string> | undefined>;
  /** Basic credentials from spec.secretRef (a `.dockerconfigjson` entry for `registry` when given). */
  basicAuth(source: FluxSource, registry?: string): Promise<BasicAuth | undefined>;
  find(ref: SourceRef, defaultNamespace: string): FluxSource | undefined;
  /** The files of another source (this repository's own tree for a self reference), fetched once per run. */
  artifactOf(ref: SourceRef, defaultNamespace: string, field: string): Promise<SourceArtifact>;
  /** One value per key per run (a Helm index shared by every chart of that repository). */
  once<T>(key: string, work: () => Promise<T>): Promise<T>;
}

/** A chart and, when the source was fetched for it, the revision to record. */
export type SourceChart = ResolvedChart & { revision?: string };

export type ChartSpec = NonNullable<FluxHelmRelease["spec"]["chart"]>["spec"];

export interface SourceKindModule<S extends FluxSource = FluxSource> {
  readonly kind: S["kind"];
  /** The URL shown in results (credentials removed); undefined when the kind has none. */
  displayUrl(source: S): string | undefined;
  /** Further sources declaring this one declares (an ArtifactGenerator's ExternalArtifacts). */
  provides?(source: S): FluxSource[];
  /** The files a Kustomization builds from. */
  artifact?(source: S, ctx: SourceContext): Promise<SourceArtifact>;
  /** The chart named by a HelmRelease's spec.chart.spec (sourceRef of this kind). */
  chart?(source: S, spec: ChartSpec, hr: FluxHelmRelease, ctx: SourceContext): Promise<SourceChart>;
  /** The chart a HelmRelease's spec.chartRef names directly. */
  chartRef?(source: S, hr: FluxHelmRelease, ctx: SourceContext): Promise<SourceChart>;
}
