// The fleet of artifact-generator-fixture.ts end to end: `gitops-bot build` prints the objects of both
// Kustomizations on ExternalArtifacts, and `gitops-bot reconcile` applies them on the real API server.
import { describe, expect, inject, it } from "vitest";
import { cli } from "../support/cli.js";
import { createNamespace, testObjectApi, uniqueName } from "../support/kube.js";
import { makeFleet } from "./artifact-generator-fixture.js";

describe("a fleet on ArtifactGenerator / ExternalArtifact", () => {
  it("gitops-bot build prints the objects of both Kustomizations on ExternalArtifacts", async () => {
    const repo = makeFleet("demo");
    const { code, out, err } = await cli(["build", "clusters/staging", "--repo", repo]);
    expect(err).toBe("");
    expect(code).toBe(0);
    for (const name of ["infra-settings", "podinfo", "staging-values"])
      expect(out).toContain(`name: ${name}`);
  });

  it("reconciles the fleet on the API server", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "ag");
    const repo = makeFleet(ns);
    const { code, err } = await cli([
      "reconcile",
      "clusters/staging",
      "--repo",
      repo,
      "--kubeconfig",
      inject("kubeconfigPath"),
      "--scope",
      uniqueName("scope"),
      "-q",
    ]);
    expect(err).not.toMatch(/error/i);
    expect(code).toBe(0);
    const read = (name: string) =>
      api.read({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns } }) as Promise<{
        data?: Record<string, string>;
      }>;
    expect((await read("podinfo")).data?.color).toBe("blue");
    expect((await read("infra-settings")).data?.tier).toBe("infrastructure");
  });
});
