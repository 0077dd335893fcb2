// The one registry reference grammar, for image scans and OCI sources (src/util/registry: below both).
// Image names as Flux reads ImageRepository `spec.image` (go-containerregistry's name.ParseReference): the
// registry is the first path component when it looks like a host (has "." or ":", or is "localhost"), else
// Docker Hub, where a single-component name lives under `library/` (`nginx` → `index.docker.io/library/nginx`).

export const DOCKER_HUB_REGISTRY = "index.docker.io";
/** Docker Hub's name and its API host differ; every other registry serves the API on its own name. */
const DOCKER_HUB_API_HOST = "registry-1.docker.io";

export interface ImageReference {
  /** As written in the ImageRepository. */
  image: string;
  /** Canonical registry host, e.g. `index.docker.io`, `ghcr.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path within the registry, e.g. `library/nginx`. */
  repository: string;
  /** Where to send API requests, e.g. `https://registry-1.docker.io`. */
  apiBaseUrl: string;
}

export class ImageReferenceError extends Error {
  override name = "ImageReferenceError";
}

const repositoryComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** A repository path of the distribution grammar (`library/nginx`): what OCI sources and image scans accept. */
export function isRepositoryPath(path: string): boolean {
  return path.length <= 255 && path.split("/").every((component) => repositoryComponent.test(component));
}

export function parseImageReference(image: string, opts: { insecure?: boolean } = {}): ImageReference {
  const fail = (reason: string) => new ImageReferenceError(`image "${image}": ${reason}`);
  if (image.trim() !== image || image === "") throw fail("must be a non-empty name without spaces");
  if (image.includes("@")) throw fail("must not contain a digest");
  const slash = image.indexOf("/");
  const first = slash === -1 ? "" : image.slice(0, slash);
  const looksLikeHost = first.includes(".") || first.includes(":") || first === "localhost";
  let registry = looksLikeHost ? first : DOCKER_HUB_REGISTRY;
  let repository = looksLikeHost ? image.slice(slash + 1) : image;
  if (/:[^/]*$/.test(repository)) throw fail("must not contain a tag; the policy chooses the tag");
  if (registry === "docker.io" || registry === "registry-1.docker.io") registry = DOCKER_HUB_REGISTRY;
  if (registry === DOCKER_HUB_REGISTRY && !repository.includes("/")) repository = `library/${repository}`;
  const invalid = repository.split("/").find((component) => !repositoryComponent.test(component));
  if (invalid !== undefined) {
    throw fail(`repository component "${invalid}" must be lowercase letters, digits and separators (. _ -)`);
  }
  const host = registry === DOCKER_HUB_REGISTRY ? DOCKER_HUB_API_HOST : registry;
  const scheme = opts.insecure || isLoopback(registry) ? "http" : "https";
  return { image, registry, repository, apiBaseUrl: `${scheme}://${host}` };
}

/** `index.docker.io/library/nginx`: the name Flux reports as the canonical image name. */
export function canonicalName(reference: ImageReference): string {
  return `${reference.registry}/${reference.repository}`;
}

// go-containerregistry talks plain HTTP to local registries without being told; so do we.
function isLoopback(registry: string): boolean {
  const host = registry.startsWith("[") ? registry.slice(1, registry.indexOf("]")) : registry.split(":")[0];
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host ?? "");
}
