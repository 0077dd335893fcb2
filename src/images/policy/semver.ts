// Flux's semver policy: the highest tag that parses as a semantic version (optionally with a leading "v") and
// satisfies the range. The first of equal versions (e.g. differing only in build metadata) wins, as in Flux.
import { parseSemverRange, SemverRangeError } from "./semver-range.js";
import { compareVersions, parseTagVersion, type SemanticVersion } from "./semver-version.js";
import { PolicyError, type TagPolicy } from "./types.js";

export function semverPolicy(range: string): TagPolicy {
  let parsed: ReturnType<typeof parseSemverRange>;
  try {
    parsed = parseSemverRange(range);
  } catch (error) {
    if (error instanceof SemverRangeError) {
      throw new PolicyError(`invalid semver range "${range}": ${error.message}`);
    }
    throw error;
  }
  return {
    description: `semver ${range}`,
    latest(tags) {
      let chosen: SemanticVersion | undefined;
      for (const tag of tags) {
        const version = parseTagVersion(tag);
        if (!version || !parsed.satisfies(version)) continue;
        if (!chosen || compareVersions(version, chosen) > 0) chosen = version;
      }
      return chosen?.original;
    },
  };
}
