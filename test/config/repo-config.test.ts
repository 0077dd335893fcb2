import { describe, expect, test } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { bindCluster, parseOperatorConfig, repositoryAllowed } from "../../src/config/operator-config.js";
import { clustersForBranch, parseRepoConfig } from "../../src/config/repo-config.js";

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe(".github/gitops.yaml", () => {
  test("parses clusters with defaults and picks those of a branch", () => {
    const config = parseRepoConfig(
      "clusters:\n  - name: prod\n    path: clusters/prod\n  - name: dev\n    path: clusters/dev\n    branch: develop\n",
    );
    expect(config.pullRequests).toEqual({ diff: true, failOnPrune: false });
    expect(clustersForBranch(config, "main", "main").map((c) => c.name)).toEqual(["prod"]);
    expect(clustersForBranch(config, "develop", "main").map((c) => c.name)).toEqual(["dev"]);
    expect(clustersForBranch(config, "feature", "main")).toEqual([]);
  });

  test.each([
    ["clusters:\n  - name: prod\n    path: clusters/prod\n    brnch: main\n", 2, "clusters[0]", /brnch/],
    ["clusters:\n  - name: prod\n    path: ../etc\n", 3, "clusters[0].path", /inside the repository/],
    ["clusters:\n  - name: Prod_1\n    path: a\n", 2, "clusters[0].name", /DNS label/],
    [
      "clusters:\n  - name: a\n    path: x\n  - name: a\n    path: y\n",
      4,
      "clusters[1].name",
      /listed twice/,
    ],
    ["clusters: []\n", 1, "clusters", /at least one/],
    ["pullRequests:\n  failOnPrune: yes please\n", undefined, "clusters", /expected array/],
  ])("names the line and field of a mistake: %j", (text, line, field, message) => {
    const err = configError(() => parseRepoConfig(text));
    const problem = err.problems.find((p) => p.field === field);
    expect(problem, JSON.stringify(err.problems)).toBeDefined();
    if (line !== undefined) expect(problem?.line).toBe(line);
    expect(problem?.message).toMatch(message);
    expect(err.message).toContain(".github/gitops.yaml");
  });

  test("reports YAML syntax errors with their line", () => {
    const err = configError(() => parseRepoConfig("clusters:\n  - name: a\n   path: [x\n"));
    expect(err.problems[0]?.line).toBeGreaterThanOrEqual(2);
  });
});

describe("operator configuration", () => {
  const config = parseOperatorConfig(
    [
      "clusters:",
      "  - name: prod",
      "    kubeconfig: /etc/kube/prod",
      "    repositories: [acme/platform]",
      "  - name: dev",
      "    repositories: ['acme/*', 'Other/app-*']",
    ].join("\n"),
    "/etc/gitops-bot.yaml",
  );

  test.each([
    ["prod", "acme/platform", true],
    ["prod", "ACME/Platform", true],
    ["prod", "acme/platform2", false],
    ["prod", "evil/platform", false],
    ["dev", "acme/anything", true],
    ["dev", "other/app-web", true],
    ["dev", "other/web", false],
  ])("cluster %s allows %s: %s", (cluster, repo, allowed) => {
    const c = config.clusters.find((x) => x.name === cluster);
    expect(c && repositoryAllowed(c, repo)).toBe(allowed);
  });

  test("binding says why a cluster cannot be used", () => {
    expect(bindCluster(config, "staging", "acme/platform")).toEqual({
      ok: false,
      reason: 'cluster "staging" is not configured on this gitops-bot server',
    });
    expect(bindCluster(config, "prod", "evil/x")).toMatchObject({
      ok: false,
      reason: expect.stringContaining('evil/x is not allowed to target cluster "prod"'),
    });
    expect(bindCluster(config, "prod", "acme/platform")).toMatchObject({ ok: true });
  });

  test("rejects a cluster without an allow-list, naming file and line", () => {
    const err = configError(() => parseOperatorConfig("clusters:\n  - name: prod\n", "/etc/gitops-bot.yaml"));
    expect(err.problems[0]).toMatchObject({ line: 2, field: "clusters[0].repositories" });
    expect(err.message).toContain("/etc/gitops-bot.yaml");
  });
});
