// The CLI end to end: the real kustomize, the real API server, a kubeconfig file like a user's.
import { symlinkSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { cli } from "../support/cli.js";
import { createNamespace, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo, writeTree } from "../support/repo-tree.js";

function secret(name: string, password: string): string {
  return `apiVersion: v1
kind: Secret
metadata:
  name: ${name}
stringData:
  password: ${password}
  user: admin
`;
}

describe("gitops-bot CLI", () => {
  it("build prints the rendered objects with Secret values masked", async () => {
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: "flux-system",
        path: "./apps",
        extra: "  namePrefix: dev-\n",
      }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
      "apps/secret.yaml": secret("db", "hunter2"),
    });
    const { code, out } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(code).toBe(0);
    expect(out).toContain("name: dev-settings");
    expect(out).toMatch(/password: ["']\*{5}["']/);
    expect(out).not.toContain("hunter2");
  });

  it("diff exits 1 with a masked diff when something would change, 0 when nothing would", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "cli");
    const scope = uniqueName("scope");
    const kubeconfig = inject("kubeconfigPath");
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
      "apps/secret.yaml": secret("db", "hunter2"),
    });
    const common = ["--repo", repo, "--kubeconfig", kubeconfig, "--scope", scope, "-q"];
    const before = await cli(["diff", "clusters/dev", ...common]);
    expect(before.code).toBe(1);
    expect(before.out).toContain(`+ created    ConfigMap/${ns}/settings`);
    expect(before.out).not.toContain("hunter2");

    const applied = await cli(["reconcile", "clusters/dev", ...common]);
    expect(applied.err).toBe("");
    expect(applied.code).toBe(0);

    const clean = await cli(["diff", "clusters/dev", ...common]);
    expect(clean.code).toBe(0);

    writeTree(repo, {
      "apps/cm.yaml": configMap("settings", { color: "green" }),
      "apps/secret.yaml": secret("db", "correct-horse"),
    });
    const changed = await cli(["diff", "clusters/dev", ...common]);
    expect(changed.code).toBe(1);
    expect(changed.out).toContain(`~ configured ConfigMap/${ns}/settings`);
    expect(changed.out).toMatch(/-\s+color: blue\n\s+\+\s+color: green/);
    expect(changed.out).toContain("***** (before)");
    expect(changed.out).toContain("***** (after)");
    expect(changed.out).not.toContain("correct-horse");
    expect(changed.out).not.toContain(Buffer.from("correct-horse").toString("base64"));
    expect(changed.out).not.toContain(Buffer.from("hunter2").toString("base64"));

    const json = await cli(["diff", "clusters/dev", ...common, "-o", "json"]);
    const parsed = JSON.parse(json.out) as { kustomizations: { changes: { action: string }[] }[] };
    expect(parsed.kustomizations[0]?.changes.map((c) => c.action).sort()).toEqual([
      "configured",
      "configured",
    ]);
  });

  it("diff exits 2 and names the file, object and field of a malformed Kustomization", async () => {
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: "flux-system",
        path: "./apps",
        extra: "  timeout: soon\n",
      }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const { code, out } = await cli([
      "diff",
      "clusters/dev",
      "--repo",
      repo,
      "--kubeconfig",
      inject("kubeconfigPath"),
      "-q",
    ]);
    expect(code).toBe(2);
    expect(out).toContain(
      "clusters/dev/apps.yaml: Kustomization/flux-system/apps: spec.timeout: must be a duration",
    );
  });

  it("refuses paths and symlinks that escape the repository", async () => {
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: "flux-system",
        path: "../outside",
      }),
    });
    const escaped = await cli(["build", "clusters/dev", "--repo", repo]);
    expect(escaped.code).toBe(2);
    expect(escaped.err).toContain(
      `clusters/dev/apps.yaml: Kustomization/flux-system/apps: spec.path: "../outside" is not a valid path (leaves the root through '..')`,
    );

    const linked = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    symlinkSync("/etc/passwd", join(linked, "apps/passwd.yaml"));
    const viaLink = await cli(["build", "clusters/dev", "--repo", linked]);
    expect(viaLink.code).toBe(2);
    expect(viaLink.err).toContain("apps/passwd.yaml: symlink leads outside the repository");
  });

  it("build fetches remote kustomize resources only with --allow-remote-resources", async () => {
    const served: string[] = [];
    const server = createServer((req, res) => {
      served.push(req.url ?? "");
      res.end(configMap("remote", { from: "http" }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const repo = makeRepo({
        "clusters/dev/apps.yaml": fluxKustomization({
          name: "apps",
          namespace: "flux-system",
          path: "./apps",
        }),
        "apps/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- http://127.0.0.1:${port}/cm.yaml\n`,
      });
      const off = await cli(["build", "clusters/dev", "--repo", repo]);
      expect(off.code).toBe(2);
      expect(off.err).toContain("CLI flag --allow-remote-resources");
      expect(served).toEqual([]);
      const on = await cli(["build", "clusters/dev", "--repo", repo, "--allow-remote-resources"]);
      expect(on.err).toBe("");
      expect(on.code).toBe(0);
      expect(on.out).toContain("name: remote");
      expect(served).toEqual(["/cm.yaml"]);
    } finally {
      server.close();
    }
  });

  it("prints help for every command and rejects unknown ones", async () => {
    for (const command of ["build", "diff", "reconcile"]) {
      const { code, out } = await cli([command, "--help"]);
      expect(code).toBe(0);
      expect(out).toContain(`Usage: gitops-bot ${command}`);
    }
    const unknown = await cli(["deploy"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "deploy"');
  });
});
