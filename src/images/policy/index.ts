// Policy registry: ImagePolicy `spec.policy` key → implementation. Adding a policy is adding a file and a line
// here, nothing else.
import { alphabeticalPolicy } from "./alphabetical.js";
import { filterTags, type TagFilterSpec } from "./filter.js";
import { numericalPolicy } from "./numerical.js";
import { semverPolicy } from "./semver.js";
import { PolicyError, type SortOrder, type TagPolicy } from "./types.js";

export type { TagFilterSpec } from "./filter.js";
export { PolicyError, type SortOrder, type TagPolicy } from "./types.js";

/** ImagePolicy `spec.policy`: exactly one of these, as in Flux's ImagePolicyChoice. */
export interface PolicyChoice {
  semver?: { range: string };
  alphabetical?: { order?: SortOrder };
  numerical?: { order?: SortOrder };
}

const policies = {
  semver: (choice: PolicyChoice) => semverPolicy(choice.semver!.range),
  alphabetical: (choice: PolicyChoice) => alphabeticalPolicy(choice.alphabetical?.order),
  numerical: (choice: PolicyChoice) => numericalPolicy(choice.numerical?.order),
} satisfies Record<keyof PolicyChoice, (choice: PolicyChoice) => TagPolicy>;

export function createPolicy(choice: PolicyChoice): TagPolicy {
  const chosen = (Object.keys(policies) as (keyof PolicyChoice)[]).filter((key) => choice[key] !== undefined);
  if (chosen.length !== 1) {
    throw new PolicyError(
      `spec.policy must set exactly one of ${Object.keys(policies).join(", ")}` +
        (chosen.length ? ` (found ${chosen.join(", ")})` : ""),
    );
  }
  return policies[chosen[0]!](choice);
}

export interface PolicyResult {
  /** The tag to deploy, or undefined when no tag qualifies. */
  tag: string | undefined;
  /** The value the policy ordered by (the extracted value with filterTags.extract, else the tag). */
  value: string | undefined;
  /** How many tags passed filterTags. */
  candidates: number;
}

/** filterTags, then the policy, then back from the extracted value to the tag: Flux's evaluation order. */
export function evaluatePolicy(
  tags: readonly string[],
  choice: PolicyChoice,
  filter?: TagFilterSpec,
): PolicyResult {
  const policy = createPolicy(choice);
  const filtered = filterTags(tags, filter);
  const value = policy.latest(filtered.values);
  return {
    tag: value === undefined ? undefined : filtered.originalTag(value),
    value,
    candidates: filtered.values.length,
  };
}
