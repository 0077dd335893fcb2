// An ExternalArtifact's originRevision is reported with the Kustomization's source revision, as Flux reports
// status.lastAppliedOriginRevision beside lastAppliedRevision: `gitops-bot build -o json` against a real OCI
// registry holding the artifact the generator carves from.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { pushFluxArtifact } from "../support/helm-repo.js";
import { uniqueName } from "../support/kube.js";
import { makeRepo } from "../support/repo-tree.js";
import { externalKustomization, generatorYaml } from "./artifact-generator-fixture.js";

describe("ExternalArtifact originRevision", () => {
  it("shows in the Kustomization's source as (origin <alias revision>)", async () => {
    process.env.GITOPS_BOT_CACHE_DIR = mkdtempSync(join(tmpdir(), "gitops-bot-origin-"));
    const host = inject("registryHost");
    const repository = uniqueName("origin");
    const digest = await pushFluxArtifact(host, repository, "2.0.1", {
      "deploy/kustomization.yaml": "resources:\n  - cm.yaml\n",
      "deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-oci\n",
    });
    const repo = makeRepo({
      "clusters/staging/generator.yaml": generatorYaml({
        sources:
          "    - alias: repo\n      kind: GitRepository\n      name: flux-system\n    - alias: app\n      kind: OCIRepository\n      name: app",
        artifacts:
          '    - name: app\n      originRevision: "@app"\n      copy:\n        - from: "@app/deploy/**"\n          to: "@artifact/"',
      }),
      "clusters/staging/oci.yaml": `apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: app\n  namespace: flux-system\nspec:\n  interval: 5m\n  url: oci://${host}/${repository}\n  insecure: true\n  ref:\n    tag: "2.0.1"\n`,
      "clusters/staging/app.yaml": externalKustomization("app", "./"),
    });
    let out = "";
    const code = await main(["build", "clusters/staging", "--repo", repo, "-o", "json"], {
      out: { write: (t: string) => (out += t) },
      err: { write: () => undefined },
    });
    expect(code).toBe(0);
    const json = JSON.parse(out) as { kustomizations: Array<{ name: string; source?: string }> };
    const app = json.kustomizations.find((k) => k.name === "app");
    expect(app?.source).toMatch(
      /^ExternalArtifact\/flux-system\/app@latest@sha256:[0-9a-f]{64} \(origin 2\.0\.1@/,
    );
    expect(app?.source).toContain(`(origin 2.0.1@${digest})`);
  });
});
