// `.github/gitops.yaml`: which clusters a repository drives, from which path and branch. Always read from the
// default branch, so a pull request cannot retarget production by editing it.
import { z } from "zod";
import { parseConfigYaml } from "./config-error.js";

export const REPO_CONFIG_PATH = ".github/gitops.yaml";

const clusterName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label: lower-case letters, digits and '-'")
  .max(63);

const relativePath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "must be a path inside the repository");

export const repoClusterSchema = z.strictObject({
  /** The cluster's name in the operator's configuration. */
  name: clusterName,
  /** Cluster path in the repository holding the Flux Kustomizations, e.g. clusters/prod. */
  path: relativePath,
  /** Branch whose pushes reconcile this cluster; defaults to the repository's default branch. */
  branch: z.string().min(1).optional(),
  /** GitHub environment to record a Deployment in for every reconcile; none when absent. */
  environment: z.string().min(1).optional(),
});

export const repoConfigSchema = z.strictObject({
  clusters: z
    .array(repoClusterSchema)
    .min(1, "list at least one cluster")
    .superRefine((clusters, ctx) => {
      const seen = new Set<string>();
      clusters.forEach((c, i) => {
        if (seen.has(c.name)) {
          ctx.addIssue({ code: "custom", path: [i, "name"], message: `cluster "${c.name}" is listed twice` });
        }
        seen.add(c.name);
      });
    }),
  pullRequests: z
    .strictObject({
      /** Comment a live dry-run diff on pull requests. */
      diff: z.boolean().default(true),
      /** The gitops/diff/<cluster> status fails when the change would prune objects. */
      failOnPrune: z.boolean().default(false),
    })
    .default({ diff: true, failOnPrune: false }),
});

export type RepoCluster = z.infer<typeof repoClusterSchema>;
export type RepoConfig = z.infer<typeof repoConfigSchema>;

export function parseRepoConfig(text: string, file = REPO_CONFIG_PATH): RepoConfig {
  return parseConfigYaml(file, text, repoConfigSchema);
}

/** The clusters a push to `branch` reconciles. */
export function clustersForBranch(config: RepoConfig, branch: string, defaultBranch: string): RepoCluster[] {
  return config.clusters.filter((c) => (c.branch ?? defaultBranch) === branch);
}
