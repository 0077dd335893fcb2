// The operator's configuration, on the server: the clusters this gitops-bot can reach and which repositories
// may target each. A repository can only name clusters; it can never grant itself one.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { parseConfigYaml } from "./config-error.js";

export const OPERATOR_CONFIG_ENV = "GITOPS_BOT_CONFIG";
export const DEFAULT_OPERATOR_CONFIG = "gitops-bot.yaml";

const repositoryPattern = z
  .string()
  .regex(/^[A-Za-z0-9_.*-]+\/[A-Za-z0-9_.*-]+$/, "must be owner/repo, where either part may use * wildcards");

export const operatorClusterSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label"),
    /** Path to a kubeconfig file; the process's default kubeconfig when absent. */
    kubeconfig: z.string().min(1).optional(),
    /** Context in that kubeconfig; its current context when absent. */
    context: z.string().min(1).optional(),
    /** Use the pod's service account (the bot runs inside this cluster). */
    inCluster: z.boolean().default(false),
    /** Repositories allowed to target this cluster: owner/repo patterns, `*` matches within one part. */
    repositories: z.array(repositoryPattern).min(1, "list the repositories allowed to target this cluster"),
  })
  .refine((c) => !(c.inCluster && c.kubeconfig), {
    message: "inCluster and kubeconfig exclude each other",
    path: ["inCluster"],
  });

export const operatorConfigSchema = z.strictObject({
  clusters: z.array(operatorClusterSchema).default([]),
  pullRequests: z
    .strictObject({
      /** Diff pull requests from forks (dry-run only; the bot never runs code from a PR). */
      forks: z.boolean().default(true),
    })
    .default({ forks: true }),
  images: z
    .strictObject({
      /** Scan registries and open image-update pull requests for ImageUpdateAutomations. */
      enabled: z.boolean().default(true),
      /** Registry credentials, docker config format (`auths`), matched by registry host. */
      dockerConfig: z.string().min(1).optional(),
    })
    .default({ enabled: true }),
  /** Runs (repository × cluster) in flight at once across the whole bot. */
  concurrency: z.number().int().min(1).max(64).default(4),
});

export type OperatorCluster = z.infer<typeof operatorClusterSchema>;
export type OperatorConfig = z.infer<typeof operatorConfigSchema>;

export function parseOperatorConfig(text: string, file: string): OperatorConfig {
  return parseConfigYaml(file, text, operatorConfigSchema);
}

/**
 * Reads the file named by GITOPS_BOT_CONFIG (default ./gitops-bot.yaml). A missing default file means no
 * clusters: the bot runs and reports, for every repository, that no cluster is configured.
 */
export function loadOperatorConfig(env: NodeJS.ProcessEnv = process.env): {
  config: OperatorConfig;
  file?: string;
} {
  const named = env[OPERATOR_CONFIG_ENV];
  const file = resolve(named || DEFAULT_OPERATOR_CONFIG);
  if (!existsSync(file)) {
    if (named) throw new Error(`${OPERATOR_CONFIG_ENV}=${named}: file not found`);
    return { config: operatorConfigSchema.parse({}) };
  }
  return { config: parseOperatorConfig(readFileSync(file, "utf8"), file), file };
}

function patternToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*");
  return new RegExp(`^${escaped}$`, "i");
}

/** Whether `repository` (owner/repo) may target `cluster`. GitHub names are case-insensitive. */
export function repositoryAllowed(cluster: OperatorCluster, repository: string): boolean {
  return cluster.repositories.some((p) => patternToRegExp(p).test(repository));
}

export type ClusterBinding = { ok: true; cluster: OperatorCluster } | { ok: false; reason: string };

/** Resolves a cluster a repository names to the operator's cluster, or says why it may not be used. */
export function bindCluster(config: OperatorConfig, name: string, repository: string): ClusterBinding {
  const cluster = config.clusters.find((c) => c.name === name);
  if (!cluster) return { ok: false, reason: `cluster "${name}" is not configured on this gitops-bot server` };
  if (!repositoryAllowed(cluster, repository)) {
    return { ok: false, reason: `repository ${repository} is not allowed to target cluster "${name}"` };
  }
  return { ok: true, cluster };
}
