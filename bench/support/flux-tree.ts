// The Flux side-by-side tree: N Kustomizations × 4 objects (ConfigMap, ServiceAccount, Service, Deployment).
// apps/app-<i>/ is the same for every side; each side (bot, kubectl, Flux) × scenario gets its own cluster path
// whose Kustomizations land the objects in that side's fresh namespace (spec.targetNamespace).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";

export const KUSTOMIZATIONS = 100;
export const OBJECTS_PER_KUSTOMIZATION = 4;

function appObjects(i: number): object[] {
  const name = `app-${i}`;
  const labels = { app: name };
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `${name}-config` },
      data: { index: String(i), greeting: `hello from ${name}`, payload: `value-${i}-`.repeat(10) },
    },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name } },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, labels },
      spec: { selector: labels, ports: [{ name: "http", port: 80, targetPort: 8080 }] },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: name,
            containers: [
              {
                name: "app",
                image: `registry.example.com/app:${i}`,
                ports: [{ containerPort: 8080 }],
                envFrom: [{ configMapRef: { name: `${name}-config` } }],
              },
            ],
          },
        },
      },
    },
  ];
}

/** apps/app-<i>/{kustomization.yaml,objects.yaml} for every i. */
export function writeApps(dir: string, count = KUSTOMIZATIONS): void {
  for (let i = 0; i < count; i++) {
    const app = join(dir, "apps", `app-${i}`);
    mkdirSync(app, { recursive: true });
    writeFileSync(
      join(app, "kustomization.yaml"),
      stringify({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: ["objects.yaml"],
      }),
    );
    writeFileSync(
      join(app, "objects.yaml"),
      appObjects(i)
        .map((o) => stringify(o))
        .join("---\n"),
    );
  }
}

/** The Flux Kustomization objects of one side: in `namespace`, targeting it, syncing apps/app-<i>. */
export function kustomizations(namespace: string, wait: boolean, count = KUSTOMIZATIONS): object[] {
  return Array.from({ length: count }, (_, i) => ({
    apiVersion: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    metadata: { name: `app-${i}`, namespace },
    spec: {
      interval: "60m",
      path: `./apps/app-${i}`,
      prune: true,
      wait,
      timeout: "3m",
      targetNamespace: namespace,
      sourceRef: { kind: "GitRepository", name: "flux-system" },
    },
  }));
}

/** clusters/<name>/kustomizations.yaml; returns the cluster path. */
export function writeClusterPath(dir: string, name: string, objects: object[]): string {
  const clusterPath = `clusters/${name}`;
  mkdirSync(join(dir, clusterPath), { recursive: true });
  writeFileSync(
    join(dir, clusterPath, "kustomizations.yaml"),
    objects.map((o) => stringify(o)).join("---\n"),
  );
  return clusterPath;
}
