// The benchmark repository layout: one Flux Kustomization in clusters/bench syncing ./apps, whose one file
// holds every object. Each suite names its Kustomization: two suites owning one Kustomization from two scopes
// would (rightly) be refused by the engine.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";

export const BENCH_CLUSTER_PATH = "clusters/bench";

export function writeBenchRepo(dir: string, kustomization: string, objects: object[]): void {
  mkdirSync(join(dir, BENCH_CLUSTER_PATH), { recursive: true });
  mkdirSync(join(dir, "apps"), { recursive: true });
  writeFileSync(
    join(dir, BENCH_CLUSTER_PATH, "apps.yaml"),
    stringify({
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name: kustomization, namespace: "flux-system" },
      spec: {
        interval: "10m",
        path: "./apps",
        prune: true,
        sourceRef: { kind: "GitRepository", name: "flux-system" },
      },
    }),
  );
  writeFileSync(join(dir, "apps", "all.yaml"), objects.map((o) => stringify(o)).join("---\n"));
}
