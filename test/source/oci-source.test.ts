// A Kustomization whose sourceRef is an OCIRepository: a Flux-style artifact (one tar.gz layer) in the real
// registry, selected by semver, with the revision reported as tag@digest.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { pushFluxArtifact } from "../support/helm-repo.js";
import { createNamespace, exists, testObjectApi, uniqueName } from "../support/kube.js";
import { startRegistry } from "../support/registry.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

describe("OCIRepository sources", () => {
  it("applies the artifact chosen by ref.semver and reports tag@digest", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "ocisrc");
    const host = inject("registryHost");
    const repository = uniqueName("manifests");
    await pushFluxArtifact(host, repository, "1.0.0", { "deploy/old.yaml": configMap("old", { v: "1" }) });
    const digest = await pushFluxArtifact(host, repository, "1.1.0", {
      "deploy/new.yaml": configMap("new", { v: "2" }),
    });
    await pushFluxArtifact(host, repository, "2.0.0", { "deploy/next.yaml": configMap("next", { v: "3" }) });
    const repo = makeRepo({
      "clusters/dev/source.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: manifests
  namespace: ${ns}
spec:
  interval: 5m
  url: oci://${host}/${repository}
  insecure: true
  ref:
    semver: "1.x"
`,
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./deploy",
        extra: `  targetNamespace: ${ns}\n`,
      }).replace("kind: GitRepository\n    name: flux-system", "kind: OCIRepository\n    name: manifests"),
    });
    const run = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
      cacheDir: mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-")),
    });
    expect(run.errors).toEqual([]);
    expect(run.kustomizations[0]).toMatchObject({
      status: "Ready",
      source: `OCIRepository/${ns}/manifests@1.1.0@${digest}`,
    });
    expect(await exists(api, "v1", "ConfigMap", "new", ns)).toBe(true);
    expect(await exists(api, "v1", "ConfigMap", "next", ns)).toBe(false);
  });

  it("pulls from a registry with basic auth using a dockerconfigjson Secret, never printing the password", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "ociauth");
    const password = "r3gistry-pass";
    const registry = await startRegistry({ htpasswd: { user: "puller", password }, storage: "inmemory" });
    try {
      const repository = uniqueName("private");
      await pushFluxArtifact(
        registry.host,
        repository,
        "v1",
        { "cm.yaml": configMap("private", { v: "1" }) },
        {
          user: "puller",
          password,
        },
      );
      const repo = makeRepo({
        "clusters/dev/source.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: private
  namespace: ${ns}
spec:
  interval: 5m
  url: oci://${registry.host}/${repository}
  insecure: true
  ref:
    tag: v1
  secretRef:
    name: registry-auth
`,
        "clusters/dev/apps.yaml": fluxKustomization({
          name: "apps",
          namespace: ns,
          path: "./",
          extra: `  targetNamespace: ${ns}\n`,
        }).replace("kind: GitRepository\n    name: flux-system", "kind: OCIRepository\n    name: private"),
      });
      const dockerConfig = (pass: string) => ({
        ".dockerconfigjson": JSON.stringify({
          auths: { [registry.host]: { auth: Buffer.from(`puller:${pass}`).toString("base64") } },
        }),
      });
      const secret = {
        apiVersion: "v1",
        kind: "Secret",
        type: "kubernetes.io/dockerconfigjson",
        metadata: { name: "registry-auth", namespace: ns },
        stringData: dockerConfig("wrong-pass"),
      };
      await api.create(secret);
      const opts = {
        ...defaultReconcileOptions(repo, "clusters/dev"),
        scope: uniqueName("scope"),
        cacheDir: mkdtempSync(join(tmpdir(), "gitops-bot-test-cache-")),
      };
      const denied = await reconcileTree(api, opts);
      expect(denied.kustomizations[0]?.status).toBe("Failed");
      expect(denied.kustomizations[0]?.message).toContain("HTTP 401 (check the secretRef credentials)");
      expect(JSON.stringify(denied)).not.toContain("wrong-pass");

      await api.patch({ ...secret, stringData: dockerConfig(password) });
      const allowed = await reconcileTree(api, opts);
      expect(allowed.kustomizations[0]?.errors).toEqual([]);
      expect(allowed.kustomizations[0]?.status).toBe("Ready");
      expect(await exists(api, "v1", "ConfigMap", "private", ns)).toBe(true);
    } finally {
      await registry.stop();
    }
  });
});
