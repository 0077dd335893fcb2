// Image automation benchmarks.
//   1. Policy evaluation over 10,000 tags (target: under 50 ms each), beside a plain sort of the same tags.
//   2. A scan of a 2,000-tag repository through Link pagination on a real distribution v3 registry, beside a
//      bare one-request tag listing of the same repository.
// Runs from `npm run bench` (bench/run.ts imports run()) or alone: node dist-bench/bench/images.js
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { evaluatePolicy, type PolicyChoice, type TagFilterSpec } from "../src/images/policy/index.js";
import { RegistryClient } from "../src/images/registry/client.js";
import { parseImageReference } from "../src/images/registry/reference.js";
import { readImageAutomationObjects } from "../src/images/resources.js";
import { scanImages } from "../src/images/scan.js";
import {
  listTags,
  paginatingRegistryBinary,
  pushImageTags,
  startRegistry,
} from "../test/support/registry.js";
import { percentile, printTable } from "./support/table.js";

const TAG_COUNT = 10_000;
const REGISTRY_TAGS = 2_000;
const PAGE_SIZE = 100;
const ROUNDS = 30;

/** A realistic mix: releases, prereleases, CI build tags, timestamps, signatures and `latest`. */
function syntheticTags(count: number): string[] {
  const tags: string[] = [];
  for (let i = 0; tags.length < count; i++) {
    const major = i % 5;
    const minor = Math.floor(i / 5) % 40;
    const patch = Math.floor(i / 200);
    switch (i % 6) {
      case 0:
        tags.push(`${major}.${minor}.${patch}`);
        break;
      case 1:
        tags.push(`v${major}.${minor}.${patch}-rc.${i % 7}`);
        break;
      case 2:
        tags.push(`main-${(i * 2654435761).toString(16).slice(0, 7)}-${1_700_000_000 + i * 37}`);
        break;
      case 3:
        tags.push(String(1_700_000_000 + i * 13));
        break;
      case 4:
        tags.push(`sha256-${i.toString(16).padStart(12, "0")}.sig`);
        break;
      default:
        tags.push(i % 2 ? "latest" : `build-${i}`);
    }
  }
  return tags;
}

function timeRounds(work: () => unknown): { median: number; p95: number } {
  const samples: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    work();
    samples.push(performance.now() - started);
  }
  return { median: percentile(samples, 50), p95: percentile(samples, 95) };
}

const fmt = (n: number) => `${n.toFixed(2)} ms`;

function benchPolicies(): void {
  const tags = syntheticTags(TAG_COUNT);
  const cases: [string, PolicyChoice, TagFilterSpec | undefined][] = [
    ["semver >=1.0.0 <3.0.0", { semver: { range: ">=1.0.0 <3.0.0" } }, undefined],
    ["semver ^2.x || ~4.1 (with prerelease)", { semver: { range: "^2.x || >=4.1.0-0 <4.2.0" } }, undefined],
    ["alphabetical asc", { alphabetical: { order: "asc" } }, undefined],
    ["numerical asc", { numerical: { order: "asc" } }, undefined],
    [
      "filterTags main-<sha>-(?P<ts>) + numerical",
      { numerical: { order: "asc" } },
      { pattern: "^main-[a-f0-9]+-(?P<ts>[0-9]+)$", extract: "$ts" },
    ],
  ];
  const baseline = timeRounds(() => [...tags].sort());
  const rows: (string | number)[][] = [
    ["baseline: sort 10,000 strings", "—", fmt(baseline.median), fmt(baseline.p95), "—"],
  ];
  for (const [label, choice, filter] of cases) {
    const chosen = evaluatePolicy(tags, choice, filter).tag ?? "(none)";
    const timing = timeRounds(() => evaluatePolicy(tags, choice, filter));
    rows.push([label, chosen, fmt(timing.median), fmt(timing.p95), timing.p95 < 50 ? "yes" : "NO"]);
  }
  printTable(
    `Image policy evaluation over ${TAG_COUNT.toLocaleString("en")} tags (${ROUNDS} rounds)`,
    ["policy", "chosen", "median", "p95", "< 50 ms"],
    rows,
  );
}

async function benchScan(): Promise<void> {
  const registry = await startRegistry({ binary: paginatingRegistryBinary(), storage: "inmemory" });
  try {
    const repository = "bench/app";
    const tags = Array.from({ length: REGISTRY_TAGS }, (_, i) => `1.${Math.floor(i / 100)}.${i % 100}`);
    const pushStarted = performance.now();
    await pushImageTags(registry.url, repository, tags, { concurrency: 16 });
    const pushMs = performance.now() - pushStarted;

    const objects = readImageAutomationObjects([
      {
        file: "bench.yaml",
        object: {
          apiVersion: "image.toolkit.fluxcd.io/v1beta2",
          kind: "ImageRepository",
          metadata: { name: "app", namespace: "bench" },
          spec: { image: `${registry.host}/${repository}`, interval: "5m" },
        } as never,
      },
      {
        file: "bench.yaml",
        object: {
          apiVersion: "image.toolkit.fluxcd.io/v1beta2",
          kind: "ImagePolicy",
          metadata: { name: "app", namespace: "bench" },
          spec: { imageRepositoryRef: { name: "app" }, policy: { semver: { range: "1.x" } } },
        } as never,
      },
    ]);
    const reference = parseImageReference(`${registry.host}/${repository}`);
    const rounds = 10;
    const bare: number[] = [];
    const listing: number[] = [];
    const scan: number[] = [];
    let pages = 0;
    let chosen: string | undefined;
    for (let round = 0; round < rounds; round++) {
      let started = performance.now();
      const all = await listTags(registry.url, repository, { n: REGISTRY_TAGS });
      bare.push(performance.now() - started);
      if (all.tags.length !== REGISTRY_TAGS) throw new Error(`bare listing returned ${all.tags.length} tags`);

      started = performance.now();
      const paged = await new RegistryClient({ pageSize: PAGE_SIZE }).listTags(reference);
      listing.push(performance.now() - started);
      pages = paged.pages;

      started = performance.now();
      const result = await scanImages(objects, { registry: new RegistryClient({ pageSize: PAGE_SIZE }) });
      scan.push(performance.now() - started);
      chosen = result.policies[0]?.tag;
    }
    printTable(
      `Scan of a ${REGISTRY_TAGS.toLocaleString("en")}-tag repository on distribution v3 (${rounds} rounds; pushing the tags took ${Math.round(pushMs)} ms)`,
      ["operation", "requests", "median", "p95"],
      [
        [
          "baseline: bare tag listing, one request (n=2000)",
          1,
          fmt(percentile(bare, 50)),
          fmt(percentile(bare, 95)),
        ],
        [
          `RegistryClient.listTags, ${PAGE_SIZE} tags per page`,
          pages,
          fmt(percentile(listing, 50)),
          fmt(percentile(listing, 95)),
        ],
        [
          `scanImages (pagination + semver 1.x → ${chosen})`,
          pages,
          fmt(percentile(scan, 50)),
          fmt(percentile(scan, 95)),
        ],
      ],
    );
  } finally {
    await registry.stop();
  }
}

export async function run(): Promise<void> {
  benchPolicies();
  await benchScan();
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  run().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
