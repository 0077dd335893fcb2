// ArtifactGenerator (source.extensions.fluxcd.io/v1beta1) and the ExternalArtifacts it generates. The
// generator itself is fetched by no one; each of its artifacts is a source: its directory assembled from the
// generator's sources by alias (assemble.ts), its revision `latest@sha256:<digest of the content>` as Flux
// reports it (or the revision of the alias named by spec.artifacts[].revision), and the origin revision of the
// alias named by spec.artifacts[].originRevision.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  type ArtifactGeneratorSource,
  type ExternalArtifactSource,
  generatedArtifacts,
} from "../../../flux/artifact-generator.js";
import { sourceKey } from "../../../flux/sources.js";
import { cached, cachePath } from "../../cache.js";
import { listFiles } from "../../repo-path.js";
import { chartFromDirectory } from "../chart-directory.js";
import type { SourceArtifact, SourceContext, SourceKindModule } from "../types.js";
import { type AliasRoot, assembleArtifact, extractTarballs } from "./assemble.js";

export const artifactGenerator: SourceKindModule<ArtifactGeneratorSource> = {
  kind: "ArtifactGenerator",
  displayUrl: () => undefined,
  provides: generatedArtifacts,
};

export const externalArtifact: SourceKindModule<ExternalArtifactSource> = {
  kind: "ExternalArtifact",
  displayUrl: (source) => sourceKey(source.generator),
  artifact: generate,
  async chartRef(source, hr, ctx) {
    const artifact = await generate(source, ctx);
    return {
      ...chartFromDirectory({
        root: artifact.dir,
        chartPath: "./",
        hr,
        field: "spec.chartRef",
        source: `${sourceKey(source)}@${artifact.revision}`,
      }),
      revision: artifact.revision,
    };
  },
};

async function generate(source: ExternalArtifactSource, ctx: SourceContext): Promise<SourceArtifact> {
  const generator = source.generator;
  const roots = new Map<string, AliasRoot>();
  for (const [i, s] of generator.spec.sources.entries()) {
    const namespace = s.namespace ?? generator.namespace;
    // A source in another namespace may hold another tenant's credentials; the generator reads only its own.
    if (namespace !== generator.namespace)
      throw new Error(
        `${sourceKey(generator)} spec.sources[${i}].namespace: ${namespace} is not the generator's namespace; cross-namespace sources are refused`,
      );
    const ref = { kind: s.kind, name: s.name, namespace };
    roots.set(s.alias, await ctx.artifactOf(ref, namespace, `${sourceKey(generator)} spec.sources[${i}]`));
  }
  const work = join(ctx.cacheDir, `external-artifacts.tmp-${randomBytes(6).toString("hex")}`);
  try {
    try {
      const extracted = await extractTarballs(source, roots);
      try {
        assembleArtifact(source, roots, work, undefined, extracted);
      } finally {
        extracted.cleanup();
      }
    } catch (err) {
      throw new Error(`${sourceKey(generator)} ${(err as Error).message}`, { cause: err });
    }
    const digest = contentDigest(work);
    const dir = await cached(cachePath(ctx.cacheDir, "external-artifacts", digest), async (tmp) => {
      renameSync(work, tmp);
    });
    const byAlias = source.spec.revision ? roots.get(source.spec.revision.slice(1))?.revision : undefined;
    // originRevision: Flux records the alias's revision as the artifact's origin
    // (org.opencontainers.image.revision), which Kustomizations report as lastAppliedOriginRevision.
    const origin = source.spec.originRevision
      ? roots.get(source.spec.originRevision.slice(1))?.revision
      : undefined;
    return {
      dir,
      revision: byAlias || `latest@sha256:${digest}`,
      ...(origin ? { originRevision: origin } : {}),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** sha256 over the artifact's files (path and content, in order): the same files give the same revision. */
function contentDigest(dir: string): string {
  const hash = createHash("sha256");
  for (const file of listFiles(dir)) {
    const rel = file.slice(dir.length + 1);
    const content = readFileSync(file);
    hash.update(`${rel}\0${content.length}\0`);
    hash.update(content);
  }
  return hash.digest("hex");
}
