// Flux's Kustomization fields rendered by the real kustomize binary.
import { describe, expect, it } from "vitest";
import { buildTree, defaultReconcileOptions } from "../../src/reconcile/run.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

type Obj = {
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: unknown;
  data?: Record<string, string>;
};

async function build(files: Record<string, string>) {
  const repo = makeRepo(files);
  const plan = await buildTree(defaultReconcileOptions(repo, "clusters/dev"));
  return plan;
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
`;

describe("kustomize build of Flux Kustomizations", () => {
  it("applies targetNamespace, namePrefix/Suffix, patches, images, components and commonMetadata", async () => {
    const plan = await build({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: "flux-system",
        path: "./apps",
        extra: `  targetNamespace: shop
  namePrefix: dev-
  nameSuffix: -v1
  commonMetadata:
    labels: {team: payments}
    annotations: {owner: alice}
  images:
  - name: nginx
    newTag: "1.27"
  components:
  - ../components/debug
  patches:
  - target: {kind: Deployment, name: web}
    patch: |
      - op: add
        path: /spec/replicas
        value: 3
`,
      }),
      "apps/kustomization.yaml":
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [web.yaml]\n",
      "apps/web.yaml": deployment,
      "components/debug/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources: [debug.yaml]
`,
      "components/debug/debug.yaml": configMap("debug", { level: "trace" }),
    });
    const objects = plan.kustomizations[0]?.objects as unknown as Obj[];
    const web = objects.find((o) => o.kind === "Deployment");
    expect(web?.metadata).toMatchObject({
      name: "dev-web-v1",
      namespace: "shop",
      labels: { team: "payments" },
      annotations: { owner: "alice" },
    });
    expect(web?.spec).toMatchObject({
      replicas: 3,
      template: { spec: { containers: [{ image: "nginx:1.27" }] } },
    });
    // commonMetadata touches metadata only, never selectors
    expect(web?.spec).toMatchObject({ selector: { matchLabels: { app: "web" } } });
    expect(objects.find((o) => o.kind === "ConfigMap")?.metadata.name).toBe("dev-debug-v1");
  });

  it("generates a kustomization.yaml for a plain directory, recursively, skipping non-Kubernetes YAML", async () => {
    const plan = await build({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
      "apps/one.yaml": configMap("one", { a: "1" }),
      "apps/nested/two.yml": configMap("two", { a: "2" }),
      "apps/values.yaml": "replicaCount: 2\n",
    });
    expect(plan.kustomizations[0]?.buildError).toBeUndefined();
    expect(plan.kustomizations[0]?.objects.map((o) => o.metadata?.name).sort()).toEqual(["one", "two"]);
  });

  it("reports a kustomize failure with the Kustomization and file", async () => {
    const plan = await build({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
      "apps/kustomization.yaml":
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [missing.yaml]\n",
    });
    expect(plan.kustomizations[0]?.buildError).toMatch(
      /^clusters\/dev\/apps.yaml: Kustomization\/flux-system\/apps: kustomize build \.\/apps failed: .*missing.yaml/,
    );
  });

  it("names the file of invalid YAML in the cluster path", async () => {
    await expect(build({ "clusters/dev/apps.yaml": "kind: [unclosed\n" })).rejects.toThrow(
      /^clusters\/dev\/apps.yaml: invalid YAML/,
    );
  });

  it("names a missing spec.path", async () => {
    await expect(
      build({
        "clusters/dev/apps.yaml": fluxKustomization({
          name: "apps",
          namespace: "flux-system",
          path: "./nowhere",
        }),
      }),
    ).rejects.toThrow(
      'clusters/dev/apps.yaml: Kustomization/flux-system/apps: spec.path: path "./nowhere" does not exist in the repository',
    );
  });
});
