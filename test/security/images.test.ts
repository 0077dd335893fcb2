// Attacks on image automation through its entry points: `gitops-bot images scan` (the same scan the app runs)
// against the harness registry, the app's ImageSchedule, and the image-update pull request against the GitHub
// double. Repository content chooses the patterns, the intervals and the branch; none of them may stall the
// bot, loop it, or make it force-push a branch that is not its own.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Octokit } from "@octokit/rest";
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from "vitest";
import { main } from "../../src/cli/main.js";
import { parseManifests } from "../../src/flux/manifests.js";
import { ImageSchedule } from "../../src/github/image-schedule.js";
import { syncImageUpdatePullRequest } from "../../src/images/pull-request.js";
import { readImageAutomationObjects } from "../../src/images/resources.js";
import { InMemoryTimers } from "../../src/queue/in-memory-timers.js";
import { ManualClock } from "../../src/schedule/clock.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { pushImageTags } from "../support/registry.js";

let workspace: string;
beforeAll(async () => {
  workspace = await mkdtemp(join(tmpdir(), "gitops-bot-security-images-"));
});
afterAll(() => rm(workspace, { recursive: true, force: true }));

async function checkout(name: string, manifests: string): Promise<string> {
  const dir = join(workspace, name);
  await mkdir(join(dir, ".git"), { recursive: true });
  await mkdir(join(dir, "clusters/dev"), { recursive: true });
  await writeFile(join(dir, "clusters/dev/images.yaml"), manifests);
  return join(dir, "clusters/dev");
}

async function scan(path: string): Promise<{ code: number; out: string; err: string; ms: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const started = performance.now();
  const code = await main(["images", "scan", path, "--docker-config", join(workspace, "none.json")], {
    out: { write: (t: string) => out.push(t) },
    err: { write: (t: string) => err.push(t) },
  });
  return { code, out: out.join(""), err: err.join(""), ms: performance.now() - started };
}

const imageObjects = (
  image: string,
  policy: string,
  repositoryExtra = "",
) => `apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata:
  name: app
  namespace: flux-system
spec:
  image: ${image}
  interval: 5m
${repositoryExtra}---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: app
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: app
${policy}`;

describe("attack row 7: patterns from a repository run in linear time", () => {
  let image: string;
  // A tag may not contain '!', so the backtracking trigger is a '-': 32 a's that `^(a+)+$` almost matches.
  const evil = ["a".repeat(32), "a".repeat(40), "b"].map((prefix) => `${prefix}-`);
  beforeAll(async () => {
    await writeFile(join(workspace, "none.json"), JSON.stringify({ auths: {} }));
    const host = inject("registryHost");
    const repository = `security/redos-${Math.random().toString(36).slice(2, 8)}`;
    const ordinary = Array.from({ length: 40 }, (_, i) => `${"a".repeat(8 + (i % 20))}`);
    await pushImageTags(`http://${host}`, repository, [...new Set([...ordinary, ...evil])], {
      concurrency: 8,
    });
    image = `${host}/${repository}`;
  });

  test("filterTags.pattern ^(a+)+$ against 32 a's and a '-' ends at once and chooses correctly", async () => {
    const path = await checkout(
      "redos-filter",
      imageObjects(
        image,
        `  filterTags:
    pattern: "^(a+)+$"
  policy:
    alphabetical: {}
`,
      ),
    );
    const result = await scan(path);
    expect(result.err).toBe("");
    expect(result.code).toBe(0);
    expect(result.out).toMatch(new RegExp(`flux-system/app\\s+\\S+\\s+${"a".repeat(27)}\\n`));
    expect(result.ms).toBeLessThan(5000);
  });

  test("an exclusionList entry ^(a|a)*$ ends at once too", async () => {
    const path = await checkout(
      "redos-exclusion",
      imageObjects(
        image,
        `  policy:
    alphabetical: {}
`,
        `  exclusionList: ["^(a|a)*$", "^(a+)+-$"]
`,
      ),
    );
    const result = await scan(path);
    expect(result.code).toBe(0);
    // Every all-a tag and every a…- tag is excluded; "b-" is what is left.
    expect(result.out).toMatch(/flux-system\/app\s+\S+\s+b-\n/);
    expect(result.ms).toBeLessThan(5000);
  });

  test("an invalid pattern is refused when read, naming file, object and field", async () => {
    const path = await checkout(
      "bad-pattern",
      imageObjects(
        image,
        `  filterTags:
    pattern: "^(a+)\\\\1$"
  policy:
    alphabetical: {}
`,
      ),
    );
    const result = await scan(path);
    expect(result.code).toBe(2);
    expect(result.err).toContain(
      'clusters/dev/images.yaml: ImagePolicy/flux-system/app: spec.filterTags.pattern: filterTags.pattern "^(a+)\\1$" is not a valid regular expression: error parsing regexp: invalid escape sequence',
    );
  });
});

function automation(spec: string) {
  return readImageAutomationObjects(
    parseManifests(
      `apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageUpdateAutomation
metadata:
  name: apps
  namespace: team-a
spec:
  sourceRef:
    kind: GitRepository
    name: flux-system
  update:
    path: ./apps
${spec}`,
      "clusters/dev/automation.yaml",
    ),
  ).automations[0]!;
}

describe("intervals from a repository never loop the app's image schedule", () => {
  const target = { installationId: 1, owner: "acme", repo: "fleet", defaultBranch: "main" };
  function schedule(clock: ManualClock, fired: string[]) {
    return new ImageSchedule({
      timers: (handler) => new InMemoryTimers(handler, { clock, minIntervalMs: 30_000, jitterPercent: 0 }),
      fire: async (t) => void fired.push(t.automation),
      minIntervalMs: 30_000,
    });
  }

  test("interval: 0s fires at the 30 s floor", async () => {
    const zero = automation("  interval: 0s\n");
    expect(zero.spec.intervalMs).toBe(0);
    const clock = new ManualClock();
    const fired: string[] = [];
    const images = schedule(clock, fired);
    expect(
      await images.scheduleRepository(target, [{ key: "team-a/apps", intervalMs: zero.spec.intervalMs }]),
    ).toEqual(["team-a/apps"]);
    await clock.advance(60_000);
    expect(fired).toEqual(["team-a/apps", "team-a/apps"]);
    expect(await images.list("acme/fleet")).toEqual([
      { id: "images:acme/fleet:team-a/apps", everyMs: 30_000 },
    ]);
    await images.close();
  });

  test("an interval past Node's timer range (1000000h) does not fire at once", async () => {
    const huge = automation("  interval: 1000000h\n");
    expect(huge.spec.intervalMs).toBeGreaterThan(2 ** 31);
    const fired: string[] = [];
    // Real timers: unclamped, Node would fire this after 1 ms, in a loop.
    const images = new ImageSchedule({
      timers: (handler) => new InMemoryTimers(handler, { minIntervalMs: 30_000 }),
      fire: async (t) => void fired.push(t.automation),
      minIntervalMs: 30_000,
    });
    await images.scheduleRepository(target, [{ key: "team-a/apps", intervalMs: huge.spec.intervalMs }]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await images.close();
    expect(fired).toEqual([]);
  });
});

describe("git.push.branch: the bot force-pushes only its own branches", () => {
  let github: GitHubMock | undefined;
  afterEach(() => github?.cleanup());
  const octokit = () =>
    new Octokit({
      auth: "ghs_test",
      log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    });

  test.each([
    ["the default branch", "main", "develop"],
    ["a protected release branch", "release", "main"],
    ["another team's branch", "team-b/image-updates", "main"],
  ])("naming %s is refused before any GitHub call", async (_label, pushBranch, checkoutBranch) => {
    // The double has no route: a single request (a read, a ref update, a force-push) would fail done().
    github = mockGitHub();
    const target = automation(`  interval: 5m
  git:
    checkout:
      ref:
        branch: ${checkoutBranch}
    push:
      branch: ${pushBranch}
`);
    const error = await syncImageUpdatePullRequest({
      octokit: octokit(),
      owner: "acme",
      repo: "fleet",
      automation: target,
      latest: new Map([["team-a/app", { image: "ghcr.io/acme/app", tag: "2.0.0" }]]),
    }).catch((e: unknown) => e as Error);
    expect((error as Error).message).toContain(
      `clusters/dev/automation.yaml: ImageUpdateAutomation/team-a/apps: spec.git.push.branch: "${pushBranch}" is not a branch of this bot`,
    );
    github.done();
  });
});
