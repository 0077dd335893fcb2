import { describe, expect, test } from "vitest";
import {
  finishedEvent,
  type ObjectResult,
  outcomeReason,
  runStopped,
  subjectOf,
} from "../../src/reconcile/events.js";
import type { HelmReleaseResult, KustomizationResult } from "../../src/reconcile/result.js";

const kustomization = (over: Partial<KustomizationResult>): ObjectResult => ({
  kind: "Kustomization",
  result: {
    name: "apps",
    namespace: "flux-system",
    path: "./apps",
    file: "clusters/dev/apps.yaml",
    status: "Ready",
    message: "2 created",
    changes: [],
    errors: [],
    unhealthy: [],
    notApplied: [],
    durationMs: 1,
    ...over,
  },
});
const helmRelease = (over: Partial<HelmReleaseResult>): ObjectResult => ({
  kind: "HelmRelease",
  result: {
    name: "podinfo",
    namespace: "apps",
    file: "apps/podinfo.yaml",
    releaseName: "podinfo",
    releaseNamespace: "apps",
    status: "Ready",
    action: "installed",
    message: "installed",
    changes: [],
    errors: [],
    durationMs: 1,
    ...over,
  },
});

describe("Flux reasons", () => {
  test.each([
    ["a ready Kustomization", kustomization({}), "ReconciliationSucceeded", "info"],
    [
      "a Kustomization held back",
      kustomization({ status: "DependencyNotReady", message: "dependency flux-system/infra is not ready" }),
      "DependencyNotReady",
      "info",
    ],
    [
      "an unhealthy Kustomization",
      kustomization({
        status: "Failed",
        message: "health check failed",
        unhealthy: [{ subject: "Deployment/apps/web", status: "InProgress", message: "0/1" }],
      }),
      "HealthCheckFailed",
      "error",
    ],
    [
      "a build failure",
      kustomization({
        status: "Failed",
        message: "Kustomization/flux-system/apps: kustomize build ./apps failed: x",
      }),
      "BuildFailed",
      "error",
    ],
    [
      "a refused apply",
      kustomization({ status: "Failed", message: "ConfigMap/a/b: Invalid value" }),
      "ReconciliationFailed",
      "error",
    ],
    ["an installed HelmRelease", helmRelease({}), "InstallSucceeded", "info"],
    ["an upgraded HelmRelease", helmRelease({ action: "upgraded" }), "UpgradeSucceeded", "info"],
    [
      "a failed upgrade",
      helmRelease({ status: "Failed", action: "none", message: "upgrade failed: timed out" }),
      "UpgradeFailed",
      "error",
    ],
  ] as const)("%s: %s (%s)", (_what, outcome, reason, severity) => {
    expect(outcomeReason(outcome)).toBe(reason);
    const event = finishedEvent(outcome, {
      cluster: "dev",
      commit: "abc",
      revision: "main@sha1:abc",
      repository: "o/r",
    });
    expect(event.reason).toBe(reason);
    expect(event.severity).toBe(severity);
    expect(event.metadata).toEqual({
      cluster: "dev",
      commit: "abc",
      revision: "main@sha1:abc",
      repository: "o/r",
    });
    expect(event.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  test("subjects are spelled Kind/namespace/name", () => {
    expect(subjectOf(finishedEvent(helmRelease({})).involvedObject)).toBe("HelmRelease/apps/podinfo");
  });

  test("credentials in a message are scrubbed before they enter an event", () => {
    const event = finishedEvent(
      kustomization({
        status: "Failed",
        message: "cannot fetch https://user:ghp_0123456789abcdefghijABCDEFGHIJ012345@github.com/o/r",
      }),
    );
    expect(event.message).not.toContain("ghp_0123456789abcdefghijABCDEFGHIJ012345");
    const stopped = runStopped({ conclusion: "failure", message: "password=hunter2hunter2 refused" }).event;
    expect(stopped.message).not.toContain("hunter2hunter2");
  });
});
