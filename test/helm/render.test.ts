// The plain-text view of HelmRelease results: the failure count carried across runs is shown with the result.
import { describe, expect, it } from "vitest";
import { renderHelmReleases } from "../../src/helm/render.js";
import type { HelmReleaseResult } from "../../src/helm/result.js";
import type { RunResult } from "../../src/reconcile/result.js";

const base: HelmReleaseResult = {
  name: "app",
  namespace: "apps",
  file: "clusters/dev/app.yaml",
  releaseName: "app",
  releaseNamespace: "apps",
  status: "Failed",
  action: "none",
  message: "upgrade retries exhausted: failed 2 times (spec.upgrade.remediation.retries: 1)",
  changes: [],
  errors: ["upgrade retries exhausted: failed 2 times (spec.upgrade.remediation.retries: 1)"],
  durationMs: 1,
};

describe("renderHelmReleases", () => {
  it("shows failures counted across runs and which retries are used up", () => {
    const run = {
      helmReleases: [
        { ...base, remediation: { installFailures: 0, upgradeFailures: 2, retriesExhausted: "upgrade" } },
        { ...base, name: "ok", status: "Ready", message: "up to date", errors: [] },
      ],
    } as unknown as RunResult;
    expect(renderHelmReleases(run)).toBe(
      [
        "► HelmRelease apps/app: Failed — upgrade retries exhausted: failed 2 times (spec.upgrade.remediation.retries: 1)",
        "  ↻ failures counted across runs: install 0, upgrade 2 (upgrade retries exhausted)",
        "► HelmRelease apps/ok: Ready — up to date",
        "",
      ].join("\n"),
    );
  });
});
