// Where a registry's credentials may go when its 401 challenge names a token realm: the registry's own host (or a
// subdomain of it), or a token service known to belong to it. Any other realm is asked for a token anonymously: a
// registry, or whoever answers in its name, cannot send the pull secret to a host of its choosing. Shared by the
// OCI source client (source/oci.ts) and image scanning's tag lister (images/registry/client.ts).

/** Token services that belong to a registry although they live on another host. */
const registryTokenHosts: Readonly<Record<string, readonly string[]>> = {
  "registry-1.docker.io": ["auth.docker.io"],
  "registry.gitlab.com": ["gitlab.com"],
};

/** Whether the registry's credentials may be sent to this token realm. */
export function realmMayHaveCredentials(registry: URL, realm: URL): boolean {
  if (registry.protocol === "https:" && realm.protocol !== "https:") return false;
  const host = realm.hostname.toLowerCase();
  const own = registry.hostname.toLowerCase();
  return host === own || host.endsWith(`.${own}`) || (registryTokenHosts[own] ?? []).includes(host);
}
