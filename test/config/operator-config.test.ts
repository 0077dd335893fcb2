import { describe, expect, it } from "vitest";
import {
  bindCluster,
  namespaceAllowed,
  parseOperatorConfig,
  securityLimits,
} from "../../src/config/operator-config.js";

const file = "gitops-bot.yaml";

describe("operator configuration", () => {
  it("defaults the security, queue and report sections", () => {
    const config = parseOperatorConfig("clusters: []\n", file);
    expect(securityLimits(config.security)).toEqual({
      maxSourceTimeoutMs: 300_000,
      maxBuildTimeMs: 120_000,
      minIntervalMs: 30_000,
      maxReleaseTimeoutMs: 1_800_000,
    });
    expect(config.security.remoteKustomizeResources).toBe(false);
    expect(config.security.outbound).toEqual({ allow: [], deny: [], allowLinkLocal: false });
    expect(config.queue).toEqual({
      maxWaiting: 1000,
      maxWaitingPerRepository: 50,
      maxRunningPerRepository: 2,
    });
    expect(config.reports).toEqual({ pendingStatuses: false });
  });

  it("binds a platform repository with full trust and a tenant with its grant", () => {
    const config = parseOperatorConfig(
      [
        "clusters:",
        "  - name: dev",
        "    repositories:",
        "      - acme/platform",
        "      - repository: acme/team-*",
        "        namespaces: [team-a, team-a-*]",
        "        clusterScoped: false",
        "        serviceAccountName: gitops",
        "        crossNamespaceRefs: false",
        "",
      ].join("\n"),
      file,
    );
    const platform = bindCluster(config, "dev", "acme/platform");
    expect(platform).toMatchObject({ ok: true, grant: { clusterScoped: true, crossNamespaceRefs: true } });
    const tenant = bindCluster(config, "dev", "ACME/team-x");
    if (!tenant.ok) throw new Error(tenant.reason);
    expect(tenant.grant).toMatchObject({
      clusterScoped: false,
      serviceAccountName: "gitops",
      crossNamespaceRefs: false,
    });
    expect(namespaceAllowed(tenant.grant, "team-a")).toBe(true);
    expect(namespaceAllowed(tenant.grant, "team-a-dev")).toBe(true);
    expect(namespaceAllowed(tenant.grant, "team-b")).toBe(false);
    expect(namespaceAllowed(tenant.grant, "kube-system")).toBe(false);
    expect(bindCluster(config, "dev", "other/repo")).toEqual({
      ok: false,
      reason: 'repository other/repo is not allowed to target cluster "dev"',
    });
  });

  it.each([
    [
      "security:\n  outbound:\n    deny: [not a host]\n",
      /line 3: security\.outbound\.deny\[0\]: "not a host" is neither a host/,
    ],
    ["security:\n  maxBuildTime: forever\n", /security\.maxBuildTime.*duration/],
    ["reports:\n  pending: true\n", /reports.*Unrecognized key/],
    [
      "clusters:\n  - name: dev\n    repositories:\n      - repository: acme/x\n        namespaces: [Kube_System]\n",
      /namespaces/,
    ],
  ])("refuses %j with the field named", (text, message) => {
    expect(() => parseOperatorConfig(text, file)).toThrow(message);
  });
});
