// The drift issue reporter on its own: run results in, GitHub requests out (the OpenAPI-checked mock). Quiet when
// nothing changed, silent about runs that prove nothing, and never a second issue after a restart.
import { pino } from "pino";
import { ProbotOctokit } from "probot";
import { afterEach, describe, expect, it } from "vitest";
import type { ChangeSetEntry } from "../../src/cluster/ssa/changeset.js";
import type { Drift } from "../../src/cluster/ssa/drift.js";
import { openReportStream, WrittenReports } from "../../src/github/reporters/index.js";
import { driftIssueBody, driftIssueMarker, driftRows } from "../../src/github/views/drift-issue-report.js";
import { runStarted } from "../../src/reconcile/events.js";
import type { RunResult } from "../../src/reconcile/result.js";
import { OWNER, REPO } from "../support/github-app.js";
import { type GitHubMock, mockGitHub } from "../support/github-mock.js";
import { base, botIssue } from "./github-runs.js";

const log = pino({ level: "silent" });
const SHA = "a".repeat(40);
const TestOctokit = ProbotOctokit.defaults(
  (options: NonNullable<ConstructorParameters<typeof ProbotOctokit>[0]>) => ({
    ...options,
    retry: { enabled: false },
    throttle: { ...options.throttle, enabled: false },
  }),
);

let github: GitHubMock | undefined;
afterEach(() => github?.cleanup());

function entry(subject: string, drift?: Drift): ChangeSetEntry {
  return {
    id: subject,
    subject,
    apiVersion: "apps/v1",
    action: drift?.action === "left as it is" ? "skipped" : drift ? "configured" : "unchanged",
    ...(drift ? { drift, diff: "-  replicas: 3\n+  replicas: 1\n" } : {}),
  };
}

function run(changes: ChangeSetEntry[], status: "Ready" | "Failed" = "Ready"): RunResult {
  return {
    clusterPath: "clusters/dev",
    dryRun: false,
    kustomizations: [
      {
        name: "apps",
        namespace: "flux-system",
        path: "./apps",
        file: "clusters/dev/apps.yaml",
        status,
        message: "",
        changes,
        errors: [],
        unhealthy: [],
        notApplied: [],
        durationMs: 1,
      },
    ],
    errors: [],
    durationMs: 1,
  };
}

const scaled: Drift = {
  fields: ["spec.replicas"],
  managers: [{ manager: "kubectl-edit", operation: "Update", time: "2026-12-01T12:00:00Z" }],
  action: "corrected",
};

/** One reconcile's report stream with only the drift issue reporter, as a job opens it. */
async function report(result: RunResult, written: WrittenReports): Promise<void> {
  const stream = openReportStream(
    {
      github: new TestOctokit({ auth: "ghs_test" }),
      repo: { owner: OWNER, repo: REPO },
      sha: SHA,
      log,
      kind: "push",
      pendingStatuses: false,
    },
    { written, only: ["drift-issue"] },
  );
  stream.emit("dev", runStarted(false, "clusters/dev"));
  stream.emit("dev", {
    type: "run-finished",
    result,
    event: runStarted(false, "clusters/dev").event,
  });
  await stream.close();
}

describe("drift issue reporter", () => {
  it("writes a drift once: the same drift found again in this process sends nothing", async () => {
    const written = new WrittenReports();
    github = mockGitHub();
    github.reply("GET", `${base}/issues`, 200, []);
    github.reply("POST", `${base}/issues`, 201, botIssue(3, "Drift on dev", ""));
    await report(run([entry("Deployment/apps/web", scaled)]), written);
    github.done();

    github = mockGitHub();
    await report(run([entry("Deployment/apps/web", scaled)]), written);
    github.done();
  });

  it("after a restart, finds the open issue by its marker and leaves it when its text is the same", async () => {
    const body = driftIssueBody("dev", driftRows(run([entry("Deployment/apps/web", scaled)])));
    github = mockGitHub();
    github.reply("GET", `${base}/issues`, 200, [
      {
        ...botIssue(11, "Drift on dev", `quoted: ${driftIssueMarker("dev")}`),
        user: { login: "octocat", type: "User" },
      },
      botIssue(12, "Drift on prod", `${driftIssueMarker("prod")}\n`),
      botIssue(13, "Drift on dev", body),
    ]);
    await report(run([entry("Deployment/apps/web", scaled)]), new WrittenReports());
    github.done();
  });

  it("a run that failed says nothing about drift: an open issue stays as it is", async () => {
    const written = new WrittenReports();
    github = mockGitHub();
    github.reply("GET", `${base}/issues`, 200, []);
    github.reply("POST", `${base}/issues`, 201, botIssue(3, "Drift on dev", ""));
    await report(run([entry("Deployment/apps/web", scaled)]), written);
    github.done();

    github = mockGitHub();
    await report(run([entry("Deployment/apps/web")], "Failed"), written);
    github.done();
  });

  it("says what report mode did: the object was left as it is", async () => {
    const body = driftIssueBody(
      "dev",
      driftRows(run([entry("Deployment/apps/web", { ...scaled, action: "left as it is" })])),
    );
    expect(body).toContain("left as it is (`drift: report`)");
    expect(body).toContain("| `Deployment/apps/web` | `flux-system/apps` | `spec.replicas` |");
    expect(body).toContain("`kubectl-edit` (Update, 2026-12-01T12:00:00Z)");
    expect(body).toContain("<details><summary>`Deployment/apps/web`: live → Git</summary>");
  });

  it("stays within GitHub's size limit and keeps its marker however much drifted", async () => {
    const wide: Drift = {
      ...scaled,
      fields: Array.from({ length: 20 }, (_, i) => `spec.${"x".repeat(150)}${i}`),
      moreFields: 500,
    };
    const many = Array.from({ length: 1000 }, (_, i) => ({
      ...entry(`ConfigMap/apps/c${i}`, wide),
      diff: `-  a: ${"y".repeat(5000)}\n`,
    }));
    const body = driftIssueBody("dev", driftRows(run(many)));
    expect(body.length).toBeLessThanOrEqual(65_536);
    expect(body.startsWith(driftIssueMarker("dev"))).toBe(true);
    expect(body).toContain("left out to fit GitHub's size limit");
  });
});
