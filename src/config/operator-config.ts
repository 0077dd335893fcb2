// The operator's configuration, on the server: the clusters this gitops-bot can reach and which repositories
// may target each. A repository can only name clusters; it can never grant itself one.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { durationSchema, parseDuration } from "../flux/duration.js";
import { outboundListEntryError } from "../util/outbound/index.js";
import { parseConfigYaml } from "./config-error.js";

export const OPERATOR_CONFIG_ENV = "GITOPS_BOT_CONFIG";
export const DEFAULT_OPERATOR_CONFIG = "gitops-bot.yaml";

const repositoryPattern = z
  .string()
  .regex(/^[A-Za-z0-9_.*-]+\/[A-Za-z0-9_.*-]+$/, "must be owner/repo, where either part may use * wildcards");

const namespacePattern = z
  .string()
  .regex(/^[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?$/, "must be a namespace name, where * matches any characters")
  .max(63);

/**
 * What one repository may do on a cluster (Flux's multi-tenancy lockdown). A repository listed as a plain
 * string is a platform repository: any namespace, cluster-scoped kinds, cross-namespace references, the bot's
 * own identity. A tenant entry narrows that; docs/security.md explains the model.
 */
export const repositoryGrantSchema = z.strictObject({
  /** owner/repo pattern; `*` matches within one part. */
  repository: repositoryPattern,
  /** Namespaces its objects, targetNamespace and every Secret/ConfigMap it reads may be in; `*` wildcards. */
  namespaces: z.array(namespacePattern).min(1, "list the namespaces this repository may use").optional(),
  /** Whether it may apply cluster-scoped kinds (Namespaces, CRDs, ClusterRoles, …). */
  clusterScoped: z.boolean().default(true),
  /** ServiceAccount (in the Kustomization's namespace) impersonated when a Kustomization names none (Flux --default-service-account). */
  serviceAccountName: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a ServiceAccount name")
    .max(253)
    .optional(),
  /** Whether sourceRef, dependsOn, valuesFrom and substituteFrom may name another namespace (Flux --no-cross-namespace-refs). */
  crossNamespaceRefs: z.boolean().default(true),
});

export type RepositoryGrant = z.infer<typeof repositoryGrantSchema>;

const repositoryEntry = z.union([repositoryPattern, repositoryGrantSchema]);

const hostOrCidr = z
  .string()
  .min(1)
  .superRefine((entry, ctx) => {
    const problem = outboundListEntryError(entry);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** Hosts and networks repository content may make the bot reach (sources, registries, charts, notifications). */
export const outboundPolicySchema = z.strictObject({
  /** When non-empty, only these hosts (`example.com`, `*.example.com`) and CIDRs (`10.0.0.0/8`) are reached. */
  allow: z.array(hostOrCidr).default([]),
  /** Never reached, whatever `allow` says. Link-local and cloud metadata addresses are always denied. */
  deny: z.array(hostOrCidr).default([]),
  /** Let repository content reach 169.254.0.0/16 and fd00:ec2::254 (cloud metadata). Almost never wanted. */
  allowLinkLocal: z.boolean().default(false),
});

export type OutboundPolicyConfig = z.infer<typeof outboundPolicySchema>;

export const securitySchema = z.strictObject({
  outbound: outboundPolicySchema.default({ allow: [], deny: [], allowLinkLocal: false }),
  /** Let kustomize fetch remote resources/bases (URLs, git). Never for pull requests from forks. */
  remoteKustomizeResources: z.boolean().default(false),
  /** The longest a source fetch may take, whatever a source's spec.timeout says. */
  maxSourceTimeout: durationSchema.default("5m"),
  /** The longest one kustomize build or helm command may run. */
  maxBuildTime: durationSchema.default("2m"),
  /** The shortest interval a Flux object or image scan may ask for. */
  minInterval: durationSchema.default("30s"),
  /** The longest install/upgrade/rollback/test a HelmRelease's timeout may ask for. */
  maxReleaseTimeout: durationSchema.default("30m"),
  /**
   * API servers (https URLs) a Kustomization's spec.kubeConfig.secretRef may point at (Flux's hub model); any
   * other server is refused. Empty (the default): no Kustomization may reach another cluster that way.
   */
  remoteClusters: z.array(z.string().url()).default([]),
});

export type SecurityConfig = z.infer<typeof securitySchema>;

/** The security section's durations in milliseconds, for code that enforces them. */
export function securityLimits(security: SecurityConfig): {
  maxSourceTimeoutMs: number;
  maxBuildTimeMs: number;
  minIntervalMs: number;
  maxReleaseTimeoutMs: number;
} {
  return {
    maxReleaseTimeoutMs: parseDuration(security.maxReleaseTimeout),
    maxSourceTimeoutMs: parseDuration(security.maxSourceTimeout),
    maxBuildTimeMs: parseDuration(security.maxBuildTime),
    minIntervalMs: parseDuration(security.minInterval),
  };
}

export const queueSchema = z.strictObject({
  /** Jobs waiting across the whole bot; more are refused (and say so in their status). */
  maxWaiting: z.number().int().min(1).max(100_000).default(1000),
  /** Jobs waiting per repository; more are refused. */
  maxWaitingPerRepository: z.number().int().min(1).max(10_000).default(50),
  /** Jobs one repository may run at once, so one repository never holds every slot. */
  maxRunningPerRepository: z.number().int().min(1).max(64).default(2),
});

export type QueueConfig = z.infer<typeof queueSchema>;

const positiveDuration = durationSchema.refine((d) => parseDuration(d) > 0, {
  message: "must be longer than 0",
});

/** Bounds on every Kubernetes request (cluster/kube-client.ts `KubeTimeouts`). */
export const kubernetesSchema = z.strictObject({
  /** TCP and TLS handshake with an API server. */
  connectTimeout: positiveDuration.default("10s"),
  /** Silence on an open connection (no byte sent or received). */
  readTimeout: positiveDuration.default("30s"),
  /** One whole request, body included. */
  requestTimeout: positiveDuration.default("30s"),
});

/** How long SIGTERM waits for running work before cutting it off and reporting it (Kubernetes gives 30 s). */
export const shutdownSchema = z.strictObject({
  gracePeriod: durationSchema.default("30s"),
});

/** The operator's Kubernetes timeouts in milliseconds, for setKubeTimeouts. */
export function kubeTimeoutsOf(config: { kubernetes?: z.infer<typeof kubernetesSchema> }): {
  connectMs: number;
  readMs: number;
  requestMs: number;
} {
  const k = kubernetesSchema.parse(config.kubernetes ?? {});
  return {
    connectMs: parseDuration(k.connectTimeout),
    readMs: parseDuration(k.readTimeout),
    requestMs: parseDuration(k.requestTimeout),
  };
}

/** The shutdown grace in milliseconds. */
export function shutdownGraceMs(config: { shutdown?: z.infer<typeof shutdownSchema> }): number {
  return parseDuration(shutdownSchema.parse(config.shutdown ?? {}).gracePeriod);
}

export const operatorClusterSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label"),
    /** Path to a kubeconfig file; the process's default kubeconfig when absent. */
    kubeconfig: z.string().min(1).optional(),
    /** Context in that kubeconfig; its current context when absent. */
    context: z.string().min(1).optional(),
    /** Use the pod's service account (the bot runs inside this cluster). */
    inCluster: z.boolean().default(false),
    /**
     * Live objects that differ from Git though Git did not change (docs/drift.md): `correct` puts them back
     * (Flux's behaviour), `report` leaves them as they are; both record the drift and report it.
     */
    drift: z.enum(["correct", "report"]).default("correct"),
    /** Repositories allowed to target this cluster: owner/repo patterns, `*` matches within one part. */
    /**
     * Repositories allowed to target this cluster: an owner/repo pattern (a platform repository, full trust on
     * this cluster) or a grant that narrows what it may do (namespaces, cluster-scoped kinds, service account).
     */
    repositories: z.array(repositoryEntry).min(1, "list the repositories allowed to target this cluster"),
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
  schedule: z
    .strictObject({
      /** Reconcile every Kustomization and HelmRelease again every spec.interval (docs/scheduling.md). */
      enabled: z.boolean().default(true),
      /** ± this percentage on each interval (Flux's --interval-jitter-percentage). */
      jitterPercentage: z.number().min(0).max(99).default(5),
    })
    .default({ enabled: true, jitterPercentage: 5 }),
  reports: z
    .strictObject({
      /** Pending statuses per Kustomization and HelmRelease while they run (each costs a write GitHub rate-limits). */
      pendingStatuses: z.boolean().default(false),
    })
    .default({ pendingStatuses: false }),
  queue: queueSchema.default({ maxWaiting: 1000, maxWaitingPerRepository: 50, maxRunningPerRepository: 2 }),
  kubernetes: kubernetesSchema.default({ connectTimeout: "10s", readTimeout: "30s", requestTimeout: "30s" }),
  shutdown: shutdownSchema.default({ gracePeriod: "30s" }),
  /**
   * Flux's own install (gotk-components.yaml) found in a cluster path: `skip` (default) leaves it out with a
   * note, as the bot reconciles in Flux's place; `apply` applies it like any other object of the cluster root.
   */
  fluxInstall: z.enum(["skip", "apply"]).default("skip"),
  security: securitySchema.default({
    outbound: { allow: [], deny: [], allowLinkLocal: false },
    remoteKustomizeResources: false,
    maxSourceTimeout: "5m",
    maxBuildTime: "2m",
    minInterval: "30s",
    maxReleaseTimeout: "30m",
    remoteClusters: [],
  }),
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

/** The full grant of a platform repository (a plain string entry). */
function platformGrant(repository: string): RepositoryGrant {
  return { repository, clusterScoped: true, crossNamespaceRefs: true };
}

/** What `repository` (owner/repo) may do on `cluster`: the first entry that matches, or undefined. */
export function repositoryGrant(cluster: OperatorCluster, repository: string): RepositoryGrant | undefined {
  for (const entry of cluster.repositories) {
    const grant = typeof entry === "string" ? platformGrant(entry) : entry;
    if (patternToRegExp(grant.repository).test(repository)) return grant;
  }
  return undefined;
}

/** Whether `repository` (owner/repo) may target `cluster`. GitHub names are case-insensitive. */
export function repositoryAllowed(cluster: OperatorCluster, repository: string): boolean {
  return repositoryGrant(cluster, repository) !== undefined;
}

/** Whether a namespace is within a grant's namespaces (`*` wildcards); every namespace when it lists none. */
export function namespaceAllowed(grant: RepositoryGrant, namespace: string): boolean {
  return !grant.namespaces || namespacesMatch(grant.namespaces, namespace);
}

const compiledNamespacePatterns = new Map<string, RegExp>();

/** Whether a namespace matches one of the operator's patterns (`*` wildcards); each pattern is compiled once. */
export function namespacesMatch(patterns: readonly string[], namespace: string): boolean {
  return patterns.some((p) => {
    let re = compiledNamespacePatterns.get(p);
    if (!re) {
      re = new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
      compiledNamespacePatterns.set(p, re);
    }
    return re.test(namespace);
  });
}

export type ClusterBinding =
  | { ok: true; cluster: OperatorCluster; grant: RepositoryGrant }
  | { ok: false; reason: string };

/** Resolves a cluster a repository names to the operator's cluster, or says why it may not be used. */
export function bindCluster(config: OperatorConfig, name: string, repository: string): ClusterBinding {
  const cluster = config.clusters.find((c) => c.name === name);
  if (!cluster) return { ok: false, reason: `cluster "${name}" is not configured on this gitops-bot server` };
  const grant = repositoryGrant(cluster, repository);
  if (!grant) {
    return { ok: false, reason: `repository ${repository} is not allowed to target cluster "${name}"` };
  }
  return { ok: true, cluster, grant };
}
