// Flux's interval jitter (fluxcd/pkg runtime/jitter, `--interval-jitter-percentage`, 5 by default in
// kustomize-controller and helm-controller): each requeue after a success waits the interval ± a uniformly
// random share of it, so objects created together drift apart instead of reconciling in one burst. Retries
// after a failure wait retryInterval exactly, as Flux's do.

export const DEFAULT_JITTER_PERCENT = 5;

/** `ms` ± `percent`% of it, uniformly; `random` returns [0, 1). */
export function jitteredInterval(
  ms: number,
  percent: number = DEFAULT_JITTER_PERCENT,
  random: () => number = Math.random,
): number {
  if (!(percent > 0) || ms <= 0) return ms;
  const share = Math.min(percent, 99) / 100;
  return Math.round(ms * (1 - share + 2 * share * random()));
}
