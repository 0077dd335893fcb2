// The `spec` schemas of Flux's image automation kinds (image.toolkit.fluxcd.io v1beta2 and v1), strict like the
// other Flux kinds: every field of Flux's API reference (image-reflector-controller api/v1
// imagerepository_types.go and imagepolicy_types.go, image-automation-controller api/v1 git.go and
// imageupdateautomation_types.go) is named here. A field gitops-bot implements is parsed; a Flux field it does
// not implement is refused as such ("is not supported by gitops-bot"), so a Flux user knows the field is right
// and the feature is missing; anything else is an unknown field with a did-you-mean (src/flux/spec-problem.ts).
import { z } from "zod";
import { durationSchema as duration } from "../flux/duration.js";
import { checked, gitRefNameError, namespaceSchema, objectNameSchema } from "../flux/names.js";

/** What every refusal of a Flux field says; the hint says what the field does or what to use instead. */
export const NOT_SUPPORTED = "is not supported by gitops-bot";

/** A Flux field gitops-bot does not implement: absent is fine, any value is refused. */
function unsupported(hint: string) {
  return z
    .custom<never>((value) => value === undefined, { message: `${NOT_SUPPORTED} (${hint})` })
    .optional();
}

/** A Flux enum of which gitops-bot implements only `supported`: a typo is still told the values Flux has. */
function onlyValue<const T extends readonly [string, ...string[]]>(
  values: T,
  supported: T[number],
  hint: string,
) {
  return z.enum(values).refine((value) => value === supported, {
    error: (issue) => `${JSON.stringify(issue.input)} ${NOT_SUPPORTED} (${hint})`,
  });
}

const localRef = z.strictObject({ name: objectNameSchema });
const namespacedRef = z.strictObject({ name: objectNameSchema, namespace: namespaceSchema.optional() });
const branchName = checked((value) => gitRefNameError(value, "branch"));
const order = z.enum(["asc", "desc"]);

export const imageRepositorySpec = z.strictObject({
  image: z.string().min(1),
  interval: duration,
  timeout: duration.optional(),
  secretRef: localRef.optional(),
  exclusionList: z.array(z.string()).max(25).optional(),
  insecure: z.boolean().optional(),
  suspend: z.boolean().optional(),
  provider: onlyValue(
    ["generic", "aws", "azure", "gcp"],
    "generic",
    "cloud workload identity; use generic with spec.secretRef",
  ).optional(),
  certSecretRef: unsupported("TLS client certificates and CA bundles from a Secret"),
  proxySecretRef: unsupported("registry requests go through the operator's outbound policy"),
  serviceAccountName: unsupported("a ServiceAccount's pull secrets; use spec.secretRef"),
  accessFrom: unsupported("cross-namespace access lists"),
});

export const imagePolicySpec = z.strictObject({
  imageRepositoryRef: namespacedRef,
  policy: z.strictObject({
    semver: z.strictObject({ range: z.string().min(1) }).optional(),
    alphabetical: z.strictObject({ order: order.optional() }).optional(),
    numerical: z.strictObject({ order: order.optional() }).optional(),
  }),
  filterTags: z.strictObject({ pattern: z.string().optional(), extract: z.string().optional() }).optional(),
  digestReflectionPolicy: onlyValue(
    ["Always", "IfNotPresent", "Never"],
    "Never",
    "digests are not reflected; only Never",
  ).optional(),
  interval: unsupported("digest refreshes, which only apply with digestReflectionPolicy: Always"),
  // v1 only. Suspending a policy keeps its last tag in Flux; gitops-bot keeps no status to hold it.
  suspend: z
    .boolean()
    .refine((value) => !value, {
      message: `true ${NOT_SUPPORTED} (suspend the ImageUpdateAutomation or the ImageRepository instead)`,
    })
    .optional(),
});

const onlyBranches = "updates are pull requests onto a branch; use branch";

export const imageUpdateAutomationSpec = z.strictObject({
  interval: duration,
  sourceRef: z.strictObject({
    kind: z.literal("GitRepository").default("GitRepository"),
    name: objectNameSchema,
    namespace: namespaceSchema.optional(),
    /** The referent's API version: accepted, not used (only GitRepository is allowed). */
    apiVersion: z.string().optional(),
  }),
  git: z
    .strictObject({
      checkout: z
        .strictObject({
          ref: z
            .strictObject({
              branch: branchName.optional(),
              tag: unsupported(onlyBranches),
              semver: unsupported(onlyBranches),
              name: unsupported(onlyBranches),
              commit: unsupported(onlyBranches),
            })
            .optional(),
        })
        .optional(),
      commit: z
        .strictObject({
          author: z.strictObject({ name: z.string().optional(), email: z.string().min(1) }),
          // Accepted, not rendered: the commit message lists the changes (docs/image-automation.md).
          messageTemplate: z.string().optional(),
          messageTemplateValues: z.record(z.string(), z.string()).optional(),
          signingKey: unsupported("GitHub signs the bot's commits"),
        })
        .optional(),
      push: z
        .strictObject({
          branch: branchName.optional(),
          refspec: unsupported("updates are pushed to one pull request branch"),
          options: unsupported("commits are made through GitHub's API, not git push"),
        })
        .optional(),
    })
    .optional(),
  update: z
    .strictObject({ path: z.string().optional(), strategy: z.literal("Setters").default("Setters") })
    .default({ strategy: "Setters" }),
  policySelector: unsupported("every ImagePolicy a marker names is used"),
  suspend: z.boolean().optional(),
});
