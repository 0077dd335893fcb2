// GitRepository: a tree at a ref (src/source/git.ts), composed with spec.include, and charts as directories.
import { cpSync } from "node:fs";
import { type GitRepositorySource, sourceKey } from "../../../flux/sources.js";
import { cached, cachePath, sha256Hex } from "../../cache.js";
import { copyTreeContained } from "../../copy-tree.js";
import { basicAuthFrom, displayUrl } from "../../credentials.js";
import { fetchGitRepository, type GitCredentials, type PinnedHost } from "../../git.js";
import { resolveInRepo } from "../../repo-path.js";
import { chartFromDirectory } from "../chart-directory.js";
import type { SourceArtifact, SourceContext, SourceKindModule } from "../types.js";

export const gitRepository: SourceKindModule<GitRepositorySource> = {
  kind: "GitRepository",
  displayUrl: (source) => displayUrl(source.spec.url),
  artifact: (source, ctx) => fetchGit(source, [sourceKey(source)], ctx),
  async chart(source, spec, hr, ctx) {
    const artifact = await ctx.artifactOf(source, source.namespace, "spec.chart.spec.sourceRef");
    return chartFromDirectory({
      root: artifact.dir,
      chartPath: spec.chart,
      hr,
      field: "spec.chart.spec.chart",
      strategy: spec.reconcileStrategy,
      source: `${sourceKey(source)}@${artifact.revision}`,
    });
  },
};

async function fetchGit(
  source: GitRepositorySource,
  chain: string[],
  ctx: SourceContext,
): Promise<SourceArtifact> {
  const data = await ctx.secretData(source);
  const creds: GitCredentials = {};
  if (data?.identity) creds.ssh = { identity: data.identity, knownHosts: data.known_hosts };
  else if (data)
    creds.basic = basicAuthFrom(data, `Secret ${source.namespace}/${source.spec.secretRef?.name}`);
  const pinned = await checkGitHost(source.spec.url, ctx);
  const base = await fetchGitRepository(source.spec, creds, ctx.cacheDir, ctx.timeoutOf(source), pinned);
  const includes = source.spec.include ?? [];
  if (includes.length === 0) return { dir: base.dir, revision: base.revision };
  // Includes change the content, so the composed tree has its own cache key.
  const parts = await Promise.all(
    includes.map(async (inc, i) => {
      const ref = { kind: "GitRepository", name: inc.repository.name, namespace: source.namespace };
      const other = ctx.find(ref, source.namespace);
      if (other?.kind !== "GitRepository") {
        throw new Error(
          `spec.include[${i}]: GitRepository ${source.namespace}/${inc.repository.name} is not defined`,
        );
      }
      if (chain.includes(sourceKey(other)))
        throw new Error(`spec.include[${i}]: include cycle through ${sourceKey(other)}`);
      const artifact = await fetchGit(other, [...chain, sourceKey(other)], ctx);
      return { inc, artifact, i };
    }),
  );
  const key = sha256Hex(
    JSON.stringify([base.dir, parts.map((p) => [p.artifact.dir, p.inc.fromPath, p.inc.toPath])]),
  );
  const dir = await cached(cachePath(ctx.cacheDir, "git-included", key), async (tmp) => {
    cpSync(base.dir, tmp, { recursive: true, verbatimSymlinks: true });
    for (const { inc, artifact, i } of parts) {
      const from = resolveInRepo(artifact.dir, inc.fromPath ?? "./", {
        field: `spec.include[${i}].fromPath`,
      });
      // Neither side may lead out through a symlink: not the included repository's fromPath, and not a
      // toPath through a link in this repository (`evil -> ../../..`, `toPath: evil/x`).
      copyTreeContained({
        from,
        fromRoot: artifact.dir,
        toPath: inc.toPath ?? inc.repository.name,
        toRoot: tmp,
        field: `spec.include[${i}]`,
      });
    }
  });
  return { dir, revision: base.revision };
}

/**
 * git makes its own connections, so the policy judges the URL's host before git runs, and git is pinned to
 * the addresses judged (git.ts: curl's resolve list, ssh's HostName; no redirects), as HTTP sources are.
 */
async function checkGitHost(url: string, ctx: SourceContext): Promise<PinnedHost> {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    throw new Error(`spec.url ${displayUrl(url)} is not a URL`);
  }
  try {
    const checked = await ctx.outbound.check(host);
    return { host: checked.host, addresses: checked.addresses.map((a) => a.text) };
  } catch (err) {
    throw new Error(`fetching ${displayUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
}
