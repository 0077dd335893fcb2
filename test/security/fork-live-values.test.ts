// A fork's pull request reads no Secret, so it cannot know which values of the live objects a trusted run
// substituted from Secrets; its diffs must still never show them (red-team hole H2).
import { describe, expect, it } from "vitest";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { createNamespace, testObjectApi, uniqueName } from "../support/kube.js";
import { fluxKustomization, makeRepo } from "../support/repo-tree.js";

describe("fork previews never show live values substituted from Secrets", () => {
  it("a fork that drops substituteFrom sees the keys of the live object, not the Secret's value", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "fork-live");
    const canary = `subst-canary-${uniqueName("x")}`;
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "vars", namespace: ns },
      stringData: { TOKEN: canary },
    } as Parameters<typeof api.create>[0]);
    const ksYaml = (post: string) =>
      fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n${post}`,
      });
    const scope = uniqueName("scope");
    const base = makeRepo({
      "clusters/dev/apps.yaml": ksYaml(
        "  postBuild:\n    substituteFrom:\n      - kind: Secret\n        name: vars\n",
      ),
      "apps/cm.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  token: ${TOKEN}\n  color: blue\n",
    });
    const applied = await reconcileTree(api, { ...defaultReconcileOptions(base, "clusters/dev"), scope });
    expect(applied.kustomizations[0]?.status).toBe("Ready");

    const fork = makeRepo({
      "clusters/dev/apps.yaml": ksYaml(""),
      "apps/cm.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  token: x\n  color: green\n",
    });
    const preview = await reconcileTree(api, {
      ...defaultReconcileOptions(fork, "clusters/dev"),
      scope,
      dryRun: true,
      withDiff: true,
      untrusted: true,
    });
    const text = JSON.stringify(preview);
    expect(text).not.toContain(canary);
    expect(text).not.toContain(Buffer.from(canary).toString("base64"));
    const diff = preview.kustomizations[0]?.changes.find((c) => c.subject?.includes("settings"))?.diff ?? "";
    expect(diff).toMatch(/^-\s+token: \*\*\*\*\*$/m);
    expect(diff).toMatch(/^\+\s+token: x$/m);
    expect(diff).toMatch(/^\+\s+color: green$/m);

    // The same preview from a trusted run (same repository) shows the old value of the field it changes.
    const trusted = await reconcileTree(api, {
      ...defaultReconcileOptions(fork, "clusters/dev"),
      scope,
      dryRun: true,
      withDiff: true,
    });
    const trustedDiff =
      trusted.kustomizations[0]?.changes.find((c) => c.subject?.includes("settings"))?.diff ?? "";
    expect(trustedDiff).toMatch(/^-\s+color: blue$/m);
  });
});
