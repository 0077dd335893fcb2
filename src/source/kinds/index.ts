// Every source kind, by its Flux kind name: the one place a kind is registered. Adding a kind is a folder
// under src/source/kinds/ implementing SourceKindModule (types.ts) and a line here.
import type { FluxSource } from "../../flux/sources.js";
import { artifactGenerator, externalArtifact } from "./artifact-generator/index.js";
import { BUCKET_REFUSAL } from "./bucket/index.js";
import { gitRepository } from "./git-repository/index.js";
import { helmChart } from "./helm-chart/index.js";
import { helmRepository } from "./helm-repository/index.js";
import { ociRepository } from "./oci-repository/index.js";
import type { SourceKindModule } from "./types.js";

type KindMap = { [K in FluxSource["kind"]]: SourceKindModule<Extract<FluxSource, { kind: K }>> };

export const sourceKindModules: KindMap = {
  GitRepository: gitRepository,
  OCIRepository: ociRepository,
  HelmRepository: helmRepository,
  HelmChart: helmChart,
  ArtifactGenerator: artifactGenerator,
  ExternalArtifact: externalArtifact,
};

/** Kinds Flux has that gitops-bot refuses, with the reason shown on the field that names them. */
export const refusedSourceKinds: Readonly<Record<string, string>> = { Bucket: BUCKET_REFUSAL };

export function kindModule(source: FluxSource): SourceKindModule {
  return sourceKindModules[source.kind] as SourceKindModule;
}

export type { SourceArtifact, SourceContext, SourceKindModule, SourceRef } from "./types.js";
