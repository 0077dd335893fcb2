// The interface every tag-ordering policy implements, after Renovate's VersioningApi: one small contract, one
// implementation per file, registered in ./index.ts.

export type SortOrder = "asc" | "desc";

export interface TagPolicy {
  /** e.g. `semver 1.0.x`, `alphabetical desc`: for messages and the CLI. */
  readonly description: string;
  /** The chosen tag among `tags`, or undefined when none qualifies. Tags the policy cannot read are skipped. */
  latest(tags: readonly string[]): string | undefined;
}

/** An ImagePolicy that cannot be evaluated at all (bad range, bad order, bad regex): a user error. */
export class PolicyError extends Error {
  override name = "PolicyError";
}
