// deploy/ against the real API server: every kustomization builds, the base applies (server-side, for real)
// on a cluster without the Prometheus operator, its pods pass the restricted Pod Security profile, the HA
// overlay and the cluster-access roles apply, and the ServiceMonitor is only there when asked for.
import { readFileSync } from "node:fs";
import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { testObjectApi, uniqueName, waitForWorkloads } from "../support/kube.js";
import { buildIsolated, deployDir, kubectlApply, kustomizeBuild } from "./kustomize-apply.js";

interface Container {
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  securityContext?: Record<string, unknown>;
  livenessProbe?: { httpGet?: { path: string } };
  readinessProbe?: { httpGet?: { path: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface DeploymentLike extends KubernetesObject {
  spec: {
    replicas: number;
    template: {
      spec: {
        securityContext: Record<string, unknown>;
        containers: Container[];
        affinity?: unknown;
      };
    };
  };
}

function objects(yaml: string): KubernetesObject[] {
  return parseAllDocuments(yaml)
    .map((d) => d.toJS() as KubernetesObject)
    .filter(Boolean);
}

function find<T extends KubernetesObject>(list: KubernetesObject[], kind: string): T {
  const found = list.find((o) => o.kind === kind);
  if (!found) throw new Error(`no ${kind} in the build`);
  return found as T;
}

describe("deploy/ kustomizations build", () => {
  it.each(["base", "overlays/ha", "cluster-access", "cluster-access/tenant"])("%s builds", (path) => {
    const built = kustomizeBuild(`${deployDir}${path}`);
    expect(built.stderr).toBe("");
    expect(built.code).toBe(0);
    expect(objects(built.stdout).length).toBeGreaterThan(0);
  });

  it("the base runs non-root on a read-only root filesystem, with probes, resources and the app Secret's keys", () => {
    const list = objects(kustomizeBuild(`${deployDir}base`).stdout);
    expect(list.map((o) => o.kind).sort()).toEqual(
      [
        "ConfigMap",
        "Deployment",
        "Namespace",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
      ].sort(),
    );
    // The Secret template is never applied by the base (it would overwrite the real credentials).
    expect(list.some((o) => o.kind === "Secret")).toBe(false);
    expect(list.some((o) => o.kind === "ServiceMonitor")).toBe(false);
    const deployment = find<DeploymentLike>(list, "Deployment");
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    const container = pod.containers[0] as Container;
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(container.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(container.readinessProbe?.httpGet?.path).toBe("/readyz");
    expect(container.resources?.requests?.memory).toBeDefined();
    expect(container.resources?.limits?.memory).toBeDefined();
    const fromSecret = Object.fromEntries(
      (container.env ?? [])
        .filter((e) => e.valueFrom?.secretKeyRef)
        .map((e) => [e.name, e.valueFrom?.secretKeyRef]),
    );
    expect(fromSecret).toEqual({
      APP_ID: { name: "gitops-bot-app", key: "APP_ID" },
      PRIVATE_KEY: { name: "gitops-bot-app", key: "PRIVATE_KEY" },
      WEBHOOK_SECRET: { name: "gitops-bot-app", key: "WEBHOOK_SECRET" },
    });
    const literal = Object.fromEntries(
      (container.env ?? []).filter((e) => e.value).map((e) => [e.name, e.value]),
    );
    expect(literal).toMatchObject({
      NODE_ENV: "production",
      HOST: "0.0.0.0",
      HOME: "/home/gitops-bot",
      TMPDIR: "/tmp",
    });
  });

  it("the HA overlay runs three replicas on Redis, spread over nodes, keeping two through a drain", () => {
    const list = objects(kustomizeBuild(`${deployDir}overlays/ha`).stdout);
    const deployment = find<DeploymentLike>(list, "Deployment");
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.template.spec.affinity).toHaveProperty("podAntiAffinity");
    const env = deployment.spec.template.spec.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === "REDIS_URL")?.valueFrom?.secretKeyRef).toEqual({
      name: "gitops-bot-redis",
      key: "url",
    });
    // The base's variables are kept, not replaced by the patch.
    expect(env.find((e) => e.name === "WEBHOOK_SECRET")).toBeDefined();
    const pdb = find<KubernetesObject & { spec: Record<string, unknown> }>(list, "PodDisruptionBudget");
    expect(pdb.spec.minAvailable).toBe(2);
    expect(pdb.spec).not.toHaveProperty("maxUnavailable");
  });
});

describe("deploy/ on the real API server", () => {
  it("the base applies for real without the Prometheus operator, and its pods pass the restricted profile", {
    timeout: 120_000,
  }, async () => {
    const namespace = uniqueName("deploy");
    const yaml = buildIsolated("base", { namespace, suffix: namespace.slice(-8) });
    const applied = kubectlApply(yaml);
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/deployment\.apps\/gitops-bot-\w+ serverside-applied/);
    const api = testObjectApi();
    await waitForWorkloads(api, namespace);
    // The ReplicaSet controller creates the pod only if Pod Security admission (enforce: restricted) lets it.
    const deadline = Date.now() + 60_000;
    let pods: KubernetesObject[] = [];
    while (Date.now() < deadline) {
      pods = (await api.list("v1", "Pod", namespace)).items;
      if (pods.length > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(pods).toHaveLength(1);
    expect(pods[0]?.metadata?.labels).toMatchObject({ "app.kubernetes.io/name": "gitops-bot" });
    // …and the profile is enforced there: a pod without the base's security context is refused.
    const plain = kubectlApply(
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "plain", namespace },
        spec: { containers: [{ name: "c", image: "busybox" }] },
      }),
      { dryRun: true },
    );
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toMatch(/violates PodSecurity "restricted:latest"/);
  });

  it("the Secret template and the HA overlay apply (server-side dry-run) into the Deployment's namespace", () => {
    const namespace = uniqueName("deploy-ha");
    const suffix = namespace.slice(-8);
    // The namespace first, for real; then everything in it by dry-run.
    const base = objects(buildIsolated("base", { namespace, suffix }));
    const ns = base.find((o) => o.kind === "Namespace");
    expect(kubectlApply(JSON.stringify(ns)).code).toBe(0);
    const ha = buildIsolated("overlays/ha", { namespace, suffix });
    const dry = kubectlApply(ha, { dryRun: true });
    expect(dry.stderr).toBe("");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/deployment\.apps\/gitops-bot-\w+ serverside-applied \(server dry run\)/);
    // The template is applied on its own (never by the base); its placeholders are refused at start-up
    // (container-start.test.ts).
    const template = objects(
      readFileSync(`${deployDir}base/secret-template.yaml`, "utf8"),
    )[0] as KubernetesObject;
    const secret = kubectlApply(
      JSON.stringify({ ...template, metadata: { ...template.metadata, namespace } }),
      {
        dryRun: true,
      },
    );
    expect(secret.stderr).toBe("");
    expect(secret.stdout).toMatch(/secret\/gitops-bot-app serverside-applied \(server dry run\)/);
  });

  it("the ServiceMonitor component adds a ServiceMonitor, which a cluster without the CRD refuses", () => {
    const namespace = uniqueName("deploy-sm");
    const yaml = buildIsolated("base", {
      namespace,
      suffix: namespace.slice(-8),
      components: ["components/servicemonitor"],
    });
    const monitor = objects(yaml).find((o) => o.kind === "ServiceMonitor") as
      | (KubernetesObject & { spec: { selector: { matchLabels: Record<string, string> } } })
      | undefined;
    expect(monitor?.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "gitops-bot" });
    const applied = kubectlApply(JSON.stringify(monitor), { dryRun: true });
    expect(applied.code).not.toBe(0);
    expect(applied.stderr).toMatch(/no matches for kind "ServiceMonitor"/);
  });

  it.each(["cluster-access", "cluster-access/tenant"])("%s applies for real", (path) => {
    const namespace = uniqueName("access");
    const applied = kubectlApply(buildIsolated(path, { namespace, suffix: namespace.slice(-8) }));
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(
      /clusterrole\.rbac\.authorization\.k8s\.io\/gitops-bot-\S+ serverside-applied/,
    );
  });
});
