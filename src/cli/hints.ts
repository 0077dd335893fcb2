// What to do next, for the engine's refusals whose remedy is a CLI flag. The engine words the refusal for
// every entry point (GitHub App, CLI); the flag is the CLI's business, so the hint is added here.

const OWNED_ELSEWHERE = /is already managed from (\S+); refusing to take it over from (\S+)/;

/** A hint line for a Kustomization's failure message, when the CLI can say how to proceed. */
export function hintFor(message: string): string | undefined {
  const owned = OWNED_ELSEWHERE.exec(message);
  if (owned) {
    return (
      `hint: the cluster's copy was applied from ${owned[1]}, this run is ${owned[2]}. If this checkout is ` +
      `that repository and cluster path, pass --scope ${owned[1]}; otherwise rename the Kustomization, or ` +
      `remove it from ${owned[1]} first`
    );
  }
  return undefined;
}
