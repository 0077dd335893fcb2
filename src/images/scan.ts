// Scanning: list each ImageRepository's tags once, drop the excluded ones, and let every ImagePolicy choose.
// Failures are values on the repository or policy they belong to, so one broken registry does not hide the
// results of the others.
import type { Logger } from "pino";
import { parseDuration } from "../flux/duration.js";
import type { BasicCredentials } from "../util/registry/auth.js";
import { type ImageReference, parseImageReference } from "../util/registry/reference.js";
import { compileGoRegexp } from "./policy/go-regexp.js";
import { evaluatePolicy, PolicyError } from "./policy/index.js";
import type { TagLister } from "./registry/client.js";
import {
  type ImageAutomationObjects,
  type ImagePolicy,
  type ImageRepository,
  objectKey,
} from "./resources.js";
import type { LatestImage } from "./setters.js";

export interface ScanOptions {
  registry: TagLister;
  /** Credentials for a repository with `secretRef`; the bot and the CLI each know where secrets live. */
  credentials?: (
    repository: ImageRepository,
    reference: ImageReference,
  ) => Promise<BasicCredentials | undefined>;
  /** Repositories scanned at once. */
  concurrency?: number;
  /** The longest one repository's listing may take, whatever its spec.timeout says (operator maxSourceTimeout). */
  maxTimeoutMs?: number;
  logger?: Pick<Logger, "info" | "warn">;
}

export interface RepositoryScan {
  repository: ImageRepository;
  /** Tags after the exclusion list, in the registry's order. */
  tags: string[];
  excluded: number;
  pages: number;
  error?: string;
}

export interface PolicyScan {
  policy: ImagePolicy;
  /** The ImageRepository's `spec.image`, which setters write. */
  image?: string;
  tag?: string;
  candidates: number;
  error?: string;
}

export interface ScanResult {
  repositories: RepositoryScan[];
  policies: PolicyScan[];
}

export async function scanImages(objects: ImageAutomationObjects, options: ScanOptions): Promise<ScanResult> {
  const repositories = await mapLimit(objects.repositories, options.concurrency ?? 4, (repository) =>
    scanRepository(repository, options),
  );
  const byKey = new Map(repositories.map((scan) => [objectKey(scan.repository), scan]));
  const policies = objects.policies.map((policy): PolicyScan => {
    const ref = policy.spec.imageRepositoryRef;
    const scan = byKey.get(`${ref.namespace ?? policy.namespace}/${ref.name}`);
    if (!scan) {
      return {
        policy,
        candidates: 0,
        error: `ImageRepository ${ref.namespace ?? policy.namespace}/${ref.name} not found`,
      };
    }
    const image = scan.repository.spec.image;
    if (scan.error)
      return { policy, image, candidates: 0, error: `ImageRepository not scanned: ${scan.error}` };
    try {
      const result = evaluatePolicy(scan.tags, policy.spec.policy, policy.spec.filterTags);
      if (result.tag === undefined) {
        return {
          policy,
          image,
          candidates: result.candidates,
          error: `no tag among ${scan.tags.length} matches the policy`,
        };
      }
      return { policy, image, tag: result.tag, candidates: result.candidates };
    } catch (error) {
      if (error instanceof PolicyError) return { policy, image, candidates: 0, error: error.message };
      throw error;
    }
  });
  return { repositories, policies };
}

/** The policies that chose a tag, keyed `namespace/name` as setter markers name them. */
export function latestImages(policies: readonly PolicyScan[]): Map<string, LatestImage> {
  const latest = new Map<string, LatestImage>();
  for (const scan of policies) {
    if (scan.image !== undefined && scan.tag !== undefined)
      latest.set(objectKey(scan.policy), { image: scan.image, tag: scan.tag });
  }
  return latest;
}

async function scanRepository(repository: ImageRepository, options: ScanOptions): Promise<RepositoryScan> {
  const empty = { repository, tags: [], excluded: 0, pages: 0 };
  if (repository.spec.suspend) return { ...empty, error: "suspended" };
  try {
    const reference = parseImageReference(repository.spec.image, { insecure: repository.spec.insecure });
    const credentials = repository.spec.secretRef
      ? await options.credentials?.(repository, reference)
      : undefined;
    if (repository.spec.secretRef && !credentials) {
      options.logger?.warn(
        { imageRepository: objectKey(repository), secretRef: repository.spec.secretRef.name },
        "no credentials for secretRef; scanning anonymously",
      );
    }
    const listing = await options.registry.listTags(reference, credentials, {
      timeoutMs: scanTimeoutMs(repository, options.maxTimeoutMs ?? defaultMaxScanTimeoutMs),
    });
    const exclusions = repository.spec.exclusionList.map((pattern) =>
      compileGoRegexp(pattern, "exclusion pattern"),
    );
    const tags = listing.tags.filter((tag) => !exclusions.some((pattern) => pattern.test(tag)));
    options.logger?.info(
      { imageRepository: objectKey(repository), tags: tags.length, pages: listing.pages },
      "scanned image repository",
    );
    return { repository, tags, excluded: listing.tags.length - tags.length, pages: listing.pages };
  } catch (error) {
    return { ...empty, error: (error as Error).message };
  }
}

export const defaultMaxScanTimeoutMs = 5 * 60_000;

/** Flux's ImageRepository timeout: `spec.timeout`, else the interval; at least 1 s, at most the operator's cap. */
export function scanTimeoutMs(repository: ImageRepository, maxMs: number): number {
  const wanted = parseDuration(repository.spec.timeout ?? repository.spec.interval);
  return Math.min(Math.max(Number.isFinite(wanted) ? wanted : maxMs, 1_000), maxMs);
}

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
