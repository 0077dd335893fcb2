// The owner of the objects a run applies: one repository and cluster path. Inventories carry it, so runs for
// another repository (or another path of the same one) never prune each other's objects. The CLI on a
// checkout and the bot for the same GitHub repository compute the same scope.

/** `github.com/owner/repo` from any remote URL form (https, ssh, scp-like), credentials and `.git` dropped. */
export function repositoryIdentity(remoteUrl: string): string {
  const trimmed = remoteUrl
    .trim()
    .replace(/\.git$/, "")
    .replace(/\/+$/, "");
  const scpLike = /^[^/@:]+@([^:/]+):(.+)$/.exec(trimmed);
  if (scpLike) return `${scpLike[1]}/${scpLike[2]}`.toLowerCase();
  try {
    const url = new URL(trimmed);
    if (url.protocol === "file:") return trimmed;
    return `${url.hostname}${url.pathname}`.toLowerCase();
  } catch {
    return trimmed;
  }
}

export function inventoryScope(repository: string, clusterPath: string): string {
  return `${repository}:${clusterPath.replace(/^\.\//, "").replace(/\/+$/, "")}`;
}
