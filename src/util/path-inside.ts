// The one containment check for paths built from untrusted strings (docs/security.md): whether `target` is
// `root` or below it, lexically. Callers that must not follow symlinks out compare realpaths with it too.
import { isAbsolute, relative, sep } from "node:path";

export function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}
