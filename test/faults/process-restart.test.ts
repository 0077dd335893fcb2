// Faults on the bot's own process, run for real: the compiled server (as `npm start` runs it) against the real
// API server and a simulated GitHub on loopback (fake-github.ts). Killed with SIGKILL mid-run and restarted,
// the run is finished on the open check run (GitHub is the journal, no Redis); with the branch moved on while
// it was down, the dead run is closed as superseded; SIGTERM ends the process within its grace, the run it cut
// off says so, and the next start re-runs it. Each case asserts GitHub matches the cluster at the end: final
// statuses, completed check runs, nothing pending.
import { createHmac, randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type BuiltServer,
  buildServer,
  type ServerProcess,
  startServer,
  testAppKey,
  untilHealthy,
} from "../security/server-process.js";
import {
  appsRepo,
  INSTALLATION_ID,
  OWNER,
  pushExample,
  REPO,
  randomSha,
  repoConfigYaml,
  tarballOf,
} from "../support/github-app.js";
import { exists, testObjectApi } from "../support/kube.js";
import { configMap } from "../support/repo-tree.js";
import { type FakeGitHub, startFakeGitHub } from "./fake-github.js";

const SECRET = "f4c1e8b2a7d9306e5b1c8a4f2d7e9b03";

let built: BuiltServer;
beforeAll(() => {
  built = buildServer();
}, 180_000);
afterAll(() => built?.remove());

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function scenario(options: { pendingStatuses?: boolean; grace?: string } = {}) {
  const api = testObjectApi();
  const { ns, clusterPath, dir } = await appsRepo(api, "proc", () => ({
    "a.yaml": configMap("a", { x: "1" }),
    "b.yaml": configMap("b", { y: "2" }),
  }));
  const github = await startFakeGitHub({
    owner: OWNER,
    name: REPO,
    installationId: INSTALLATION_ID,
    defaultBranch: "master",
    config: repoConfigYaml([{ name: "dev", path: clusterPath }]),
  });
  cleanups.push(() => github.close());
  const operator = [
    "clusters:",
    "  - name: dev",
    `    kubeconfig: ${inject("kubeconfigPath")}`,
    `    repositories: ["${OWNER}/${REPO}"]`,
    "images:",
    "  enabled: false",
    "reports:",
    `  pendingStatuses: ${options.pendingStatuses === true}`,
    "shutdown:",
    `  gracePeriod: ${options.grace ?? "30s"}`,
    "",
  ].join("\n");
  const start = async (): Promise<ServerProcess> => {
    const server = await startServer(built, {
      env: {
        APP_ID: "1",
        PRIVATE_KEY: testAppKey(),
        WEBHOOK_SECRET: SECRET,
        GITOPS_BOT_CONFIG: "gitops-bot.yaml",
        GHE_HOST: github.host,
        GHE_PROTOCOL: "http",
        LOG_LEVEL: "info",
        GITOPS_BOT_KUSTOMIZE: process.env.GITOPS_BOT_KUSTOMIZE ?? "kustomize",
        GITOPS_BOT_BUILD_CACHE: "off",
      },
      files: { "gitops-bot.yaml": operator },
    });
    cleanups.push(() => server.dispose());
    await untilHealthy(server);
    await until(() => server.output().includes("recovery: unfinished runs"), 30_000, server);
    return server;
  };
  const commit = () => {
    const sha = randomSha();
    github.push(sha, tarballOf(dir, sha));
    return sha;
  };
  return { api, ns, github, start, commit };
}

/** Delivers a signed push webhook for `sha` to the server, as GitHub does. */
async function deliverPush(server: ServerProcess, sha: string): Promise<void> {
  const body = JSON.stringify(pushExample(sha));
  const response = await fetch(`http://127.0.0.1:${server.port}/api/github/webhooks`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`,
    },
    body,
  });
  expect(response.status).toBeLessThan(300);
}

async function until(condition: () => boolean, timeoutMs: number, server?: ServerProcess): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms${server ? `:\n${server.output()}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return performance.now();
}

/** GitHub matches a cluster the commit is applied on: green, completed, nothing pending. */
function expectApplied(github: FakeGitHub, sha: string) {
  const final = github.finalStatuses(sha);
  expect(final).toEqual({
    "gitops/dev": { state: "success", description: expect.stringMatching(/^1 Kustomization ready/) },
    "gitops/dev/apps": {
      state: "success",
      description: expect.stringMatching(/^2 created|^2 unchanged|created/),
    },
  });
  const runs = github.checkRuns.filter((r) => r.head_sha === sha);
  expect(runs.filter((r) => r.status !== "completed")).toEqual([]);
  expect(runs.at(-1)).toMatchObject({ status: "completed", conclusion: "success" });
}

describe("the bot is killed (SIGKILL) mid-run and restarted", () => {
  it("re-runs the commit on its open check run and ends green, as the cluster is", async () => {
    const { api, ns, github, start, commit } = await scenario({ pendingStatuses: true });
    const sha = commit();
    const hold = github.holdTarball(sha);
    const first = await start();
    await deliverPush(first, sha);
    await hold.requested;
    // Mid-run: the check run is in progress (the run started), nothing is applied yet.
    await until(() => github.checkRuns.some((r) => r.head_sha === sha && r.status === "in_progress"), 10_000);
    first.child.kill("SIGKILL");
    await first.exited;
    const killed = performance.now();
    hold.release();
    expect(await exists(api, "v1", "ConfigMap", "a", ns)).toBe(false);
    expect(github.checkRuns.filter((r) => r.head_sha === sha).map((r) => r.status)).toEqual(["in_progress"]);

    const restarted = performance.now();
    const second = await start();
    const green = await until(
      () => github.checkRuns.some((r) => r.head_sha === sha && r.status === "completed"),
      60_000,
      second,
    );
    await until(() => github.finalStatuses(sha)["gitops/dev"]?.state === "success", 30_000, second);
    await until(() => github.finalStatuses(sha)["gitops/dev/apps"]?.state === "success", 30_000, second);
    const final = performance.now();
    console.log(
      `SIGKILL mid-run: check run completed ${Math.round(green - restarted)} ms and final statuses ${Math.round(final - restarted)} ms after the new process was spawned (${Math.round(final - killed)} ms after the kill)`,
    );
    // One check run, the one the dead process opened, finished by the new one.
    expect(github.checkRuns.filter((r) => r.head_sha === sha)).toHaveLength(1);
    expectApplied(github, sha);
    expect(await exists(api, "v1", "ConfigMap", "a", ns)).toBe(true);
    expect(await exists(api, "v1", "ConfigMap", "b", ns)).toBe(true);
    expect(github.unknown).toEqual([]);
  }, 180_000);

  it("closes the dead run as superseded when the branch moved on while the bot was down", async () => {
    const { api, ns, github, start, commit } = await scenario({ pendingStatuses: true });
    const old = commit();
    const hold = github.holdTarball(old);
    const first = await start();
    await deliverPush(first, old);
    await hold.requested;
    await until(() => github.checkRuns.some((r) => r.head_sha === old && r.status === "in_progress"), 10_000);
    first.child.kill("SIGKILL");
    await first.exited;
    hold.release();
    // A newer commit while the bot is down (its webhook is redelivered once the bot is back).
    const newer = commit();

    const restarted = performance.now();
    const second = await start();
    const closed = await until(
      () => github.checkRuns.some((r) => r.head_sha === old && r.status === "completed"),
      60_000,
      second,
    );
    await until(() => github.finalStatuses(old)["gitops/dev"]?.state === "success", 30_000, second);
    console.log(
      `SIGKILL, branch moved while down: dead run closed as superseded ${Math.round(performance.now() - restarted)} ms after the new process was spawned (check run ${Math.round(closed - restarted)} ms)`,
    );
    expect(github.checkRuns.find((r) => r.head_sha === old)).toMatchObject({
      status: "completed",
      conclusion: "skipped",
    });
    expect(github.finalStatuses(old)["gitops/dev"]).toEqual({
      state: "success",
      description: `superseded by ${newer.slice(0, 7)} before it finished (the bot restarted); not applied`,
    });
    expect(Object.values(github.finalStatuses(old)).filter((s) => s.state === "pending")).toEqual([]);
    expect(await exists(api, "v1", "ConfigMap", "a", ns)).toBe(false);

    await deliverPush(second, newer);
    await until(() => github.checkRuns.some((r) => r.head_sha === newer && r.status === "completed"), 60_000);
    await until(() => github.finalStatuses(newer)["gitops/dev/apps"]?.state === "success", 30_000, second);
    expectApplied(github, newer);
    expect(await exists(api, "v1", "ConfigMap", "a", ns)).toBe(true);
  }, 180_000);
});

describe("SIGTERM: a bounded graceful shutdown", () => {
  it("exits within the grace, says the run it cut off will be re-run, and the next start re-runs it", async () => {
    const { api, ns, github, start, commit } = await scenario({ grace: "6s" });
    const sha = commit();
    const hold = github.holdTarball(sha);
    const first = await start();
    await deliverPush(first, sha);
    await hold.requested;
    await until(() => github.checkRuns.some((r) => r.head_sha === sha && r.status === "in_progress"), 10_000);
    const term = performance.now();
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    const exited = performance.now();
    hold.release();
    console.log(
      `SIGTERM with a run held: exited ${Math.round(exited - term)} ms after the signal (grace 6 s)`,
    );
    expect(exited - term).toBeLessThan(6_000 + 1_000);
    // Truthful when the process is gone: an error saying why, a cancelled check run, nothing pending.
    expect(github.finalStatuses(sha)).toEqual({
      "gitops/dev": {
        state: "error",
        description: "the bot was shut down during the run; it will be re-run",
      },
    });
    expect(github.checkRuns.filter((r) => r.head_sha === sha)).toMatchObject([
      { status: "completed", conclusion: "cancelled" },
    ]);

    const restarted = performance.now();
    const second = await start();
    await until(() => github.finalStatuses(sha)["gitops/dev/apps"]?.state === "success", 60_000, second);
    await until(() => github.checkRuns.filter((r) => r.status === "completed").length === 2, 30_000, second);
    console.log(
      `SIGTERM cut-off, restart: re-run green ${Math.round(performance.now() - restarted)} ms after the new process was spawned`,
    );
    expectApplied(github, sha);
    expect(await exists(api, "v1", "ConfigMap", "b", ns)).toBe(true);
  }, 180_000);

  it("lets a run that ends within the grace finish, then exits 0", async () => {
    const { api, ns, github, start, commit } = await scenario({ grace: "20s" });
    const sha = commit();
    const hold = github.holdTarball(sha);
    const server = await start();
    await deliverPush(server, sha);
    await hold.requested;
    const term = performance.now();
    server.child.kill("SIGTERM");
    // New work is refused at once; the running one goes on.
    setTimeout(() => hold.release(), 1_000);
    expect(await server.exited).toBe(0);
    console.log(
      `SIGTERM with a run finishing in 1 s: exited ${Math.round(performance.now() - term)} ms after the signal`,
    );
    expectApplied(github, sha);
    expect(await exists(api, "v1", "ConfigMap", "a", ns)).toBe(true);
  }, 120_000);
});
