// The registry side shared by OCIRepository and HelmRepository (type oci): one client per conversation,
// credentials from the source's Secret (docker config or username/password), the manifest chosen by digest,
// semver or tag.
import type { HelmRepositorySource, OCIRepositorySource } from "../../flux/sources.js";
import { credentialScope } from "../cache.js";
import type { BasicAuth } from "../credentials.js";
import { assertManifestReference, OciClient, type OciManifest, parseOciUrl, selectTag } from "../oci.js";
import type { SourceContext } from "./types.js";

export async function registryClient(
  url: string,
  source: OCIRepositorySource | HelmRepositorySource,
  ctx: SourceContext,
): Promise<{ client: OciClient; scope: string; auth: BasicAuth | undefined }> {
  const ref = parseOciUrl(url);
  const auth = await ctx.basicAuth(source, ref.registry);
  const client = new OciClient(ref, {
    auth,
    insecure: source.spec.insecure ?? false,
    timeoutMs: ctx.timeoutOf(source),
    policy: ctx.outbound,
  });
  return { client, scope: credentialScope(ctx.cacheDir, auth), auth };
}

/** An OCIRepository's manifest at its spec.ref, and the revision Flux reports for it (`<tag>@<digest>`). */
export async function ociRepositoryManifest(
  source: OCIRepositorySource,
  ctx: SourceContext,
): Promise<{ client: OciClient; manifest: OciManifest; revision: string; scope: string }> {
  const { client, scope } = await registryClient(source.spec.url, source, ctx);
  const ref = source.spec.ref ?? {};
  if (ref.digest) {
    const manifest = await client.manifest(ref.digest);
    return { client, manifest, revision: ref.digest, scope };
  }
  let tag: string | undefined;
  if (ref.semver) {
    tag = selectTag(await client.tags(), ref.semver);
    if (!tag) throw new Error(`no tag matches semver range "${ref.semver}"`);
  } else {
    tag = ref.tag ?? "latest";
  }
  const manifest = await client.manifest(assertManifestReference(tag));
  return { client, manifest, revision: `${tag}@${manifest.digest}`, scope };
}
