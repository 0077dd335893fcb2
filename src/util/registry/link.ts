// Tag-list pagination, read the same way by OCI sources and image scans: `Link: <…>; rel="next"` (RFC 8288).
// Callers decide whether the next page may be followed (same registry, same path).

/** `Link: </v2/x/tags/list?n=100&last=foo>; rel="next"`, relative to the current page. */
export function nextPage(link: string | null, current: URL): URL | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match && /(^|;)\s*rel="?next"?\s*(;|$)/i.test(match[2]!)) return new URL(match[1]!, current);
  }
  return undefined;
}
