// kustomize's own error text, told in the repository's terms: builds run in private temporary copies
// (gitops-bot-build-…, gitops-bot-overlay-…), whose paths mean nothing to the person who pushed; and its two most
// common failures (a file outside the kustomization's directory, a file that does not exist) get a plain sentence
// with what to do next instead of the nested "accumulation err=…" chain.

/** Paths inside a build's work tree become repository paths; the Flux overlay around spec.path is left out. */
export function repositoryPaths(message: string, workDir: string): string {
  const workTree = new RegExp(`${escapeRegExp(workDir)}(/|(?=['"\\s:]|$))`, "g");
  return message
    .replace(workTree, (_, slash: string) => (slash === "/" ? "" : "."))
    .replace(
      /(?:\.\.\/)+(?:[^\s'"]*\/)?gitops-bot-build-[A-Za-z0-9]+(\/|(?=['"\s:]|$))/g,
      (_, slash: string) => (slash === "/" ? "" : "."),
    )
    .replace(/[^\s'"]*gitops-bot-overlay-[A-Za-z0-9]+(?:\/[^\s'"]*)?/g, "(the overlay for spec.path)");
}

const OUTSIDE =
  /accumulating resources from '([^']+)': security; file '([^']+)' is not in or below '([^']+)'/;
const MISSING =
  /accumulating resources from '([^']+)': evalsymlink failure on '([^']+)' : lstat [^:]+: no such file or directory/;
/** The same without the load restrictor (kustomize then opens the file before trying it as a directory). */
const MISSING_OPEN = /accumulating resources from '([^']+)': open ([^:']+): no such file or directory/;

/** kustomize's message (paths already repository paths) as one sentence a person can act on, when it is a known one. */
export function explainKustomizeMessage(message: string): string {
  const outside = OUTSIDE.exec(message);
  if (outside) {
    const [, reference, file, root] = outside as unknown as [string, string, string, string];
    const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : ".";
    return (
      `the kustomization in ${root} lists "${reference}" (${file}), which is outside ${root}: kustomize loads ` +
      `files only from the kustomization's own directory and below. Move the file under ${root}, or give ${dir} ` +
      `a kustomization.yaml and list that directory in resources instead`
    );
  }
  const missing = MISSING.exec(message) ?? MISSING_OPEN.exec(message);
  if (missing) {
    const [, reference, file] = missing as unknown as [string, string, string];
    const root = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : ".";
    return `the kustomization in ${root} lists "${reference}", but ${file} does not exist: fix the name in resources or add the file`;
  }
  return message;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
